"""The byte budget all probes' bodies share (``monitor.max_body_memory``, SPEC section 8):
waits in line, never leaks what a cancelled probe held or was about to be given."""

from __future__ import annotations

import asyncio

import pytest

from monitor.probes.sessions import ByteBudget


async def test_takes_wait_in_line_until_bytes_are_given_back() -> None:
    budget = ByteBudget(100)
    assert await budget.take(70) == 70
    order: list[str] = []

    async def take(name: str, size: int) -> None:
        await budget.take(size)
        order.append(name)

    big = asyncio.create_task(take("big", 60))
    await asyncio.sleep(0)
    small = asyncio.create_task(take("small", 10))  # would fit, but waits behind "big"
    await asyncio.sleep(0.01)
    assert order == [] and budget.used == 70 and budget.waits == 2

    budget.give(70)
    await asyncio.gather(big, small)
    assert order == ["big", "small"]
    assert budget.used == 70 and budget.peak == 70


async def test_one_take_is_capped_at_the_whole_budget() -> None:
    budget = ByteBudget(100)
    assert await budget.take(1000) == 100
    assert budget.used == 100


async def test_a_cancelled_waiter_leaves_nothing_behind() -> None:
    budget = ByteBudget(100)
    await budget.take(100)
    waiting = asyncio.create_task(budget.take(50))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    budget.give(100)
    assert budget.used == 0
    assert await budget.take(100) == 100  # nobody holds a place in line any more


async def test_bytes_granted_to_a_waiter_cancelled_before_it_ran_are_given_back() -> None:
    budget = ByteBudget(100)
    await budget.take(100)
    waiting = asyncio.create_task(budget.take(40))
    await asyncio.sleep(0.01)
    budget.give(100)  # grants the 40 bytes to the waiter ...
    waiting.cancel()  # ... which is cancelled before it resumes
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert budget.used == 0


def test_a_budget_needs_a_byte() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ByteBudget(0)
