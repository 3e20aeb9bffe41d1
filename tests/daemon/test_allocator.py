"""``sla-monitor run`` has glibc serve all its threads from one malloc arena
(:func:`monitor.daemon.loop.one_allocator_arena`), unless the operator's environment says
otherwise (``MALLOC_ARENA_MAX``). Each case runs in a child process of its own, where four
threads allocate at the same time, and counts the heaps glibc reports (``malloc_info``)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="glibc's allocator")

CHILD = """
import ctypes, sys, threading
from monitor.daemon.loop import one_allocator_arena

print(one_allocator_arena() if sys.argv[1] == "set" else None)
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
together = threading.Barrier(4)

def allocate():
    block = libc.malloc(4096)
    together.wait()  # all four threads alive at once: none inherits another's arena
    libc.free(block)

threads = [threading.Thread(target=allocate) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc.open_memstream.restype = ctypes.c_void_p
text, size = ctypes.c_char_p(), ctypes.c_size_t()
stream = ctypes.c_void_p(libc.open_memstream(ctypes.byref(text), ctypes.byref(size)))
libc.malloc_info(0, stream)
libc.fclose(stream)
print(ctypes.string_at(text, size.value).count(b"<heap nr="))
"""


def heaps(mode: str, **environment: str) -> tuple[str, int]:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | environment
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True,
                         check=True, env=env, timeout=60).stdout.split()
    return out[0], int(out[1])


def test_glibcs_default_gives_each_thread_an_arena() -> None:
    assert heaps("default") == ("None", 5)  # the main arena and one per thread


def test_the_daemon_serves_every_thread_from_one_arena() -> None:
    assert heaps("set") == ("True", 1)


def test_an_operators_malloc_arena_max_is_kept() -> None:
    assert heaps("set", MALLOC_ARENA_MAX="3") == ("False", 3)
