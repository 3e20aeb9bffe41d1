"""Rendering statements: the one way (:func:`render_files`), and the worker processes that
do it for a month's customers at once (:class:`Renderers`)::

    render_files(statement) -> StatementFiles       (HTML, PDF, CSV: CPU-bound, synchronous)
    available_cores() -> int
    Renderers(workers)                              (a context manager: a process pool)
        await renderers.render(statement) -> StatementFiles

A statement's PDF costs tens of CPU-milliseconds (Typst's layout), its HTML and CSV a few
milliseconds: at 10,000 customers the month's run is CPU-bound, and one process
uses one core. ``send_statements`` renders in worker processes, as many as the cores this
process may run on; each worker pays once, when it starts, for what every statement needs
(the Jinja2 environment and its templates, the catalogs, Typst's compiler with the fonts),
then renders statement after statement. The parent builds each :class:`Statement` (a pure
function of the frozen revision), sends it to a worker (a few kilobytes pickled), and
writes what comes back to the database in batches: the database is only ever written by
the parent.

*Decisions:* the workers are started with ``spawn`` (a fresh interpreter: the daemon and
the command line run threads, which ``fork`` would copy mid-lock); a worker ignores
SIGINT (Ctrl-C stops the parent, which stops the workers, instead of a traceback per
worker) and exits when its parent is gone (a parent killed with SIGKILL leaves none); a few statements are rendered on a thread of the parent instead
(:data:`PROCESSES_FROM`): starting a worker costs about as much as rendering a few.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType

from monitor.actions.mail import StatementFiles
from monitor.present.html import environment
from monitor.present.language import catalog
from monitor.present.statement import (
    Statement,
    check_pdf,
    statement_csv,
    statement_html,
    statement_pdf,
)

__all__ = ["PROCESSES_FROM", "Renderers", "available_cores", "render_files"]

#: From this many statements to render, worker processes; below, a thread of the caller.
PROCESSES_FROM = 8


def render_files(statement: Statement) -> StatementFiles:
    """The statement's HTML (the e-mail's body), its PDF (the same template, for print) and
    its CSV. The one rendering of a statement: ``statement show`` and a single statement
    call it on a thread, a month's run in worker processes."""
    return StatementFiles(statement_html(statement), statement_pdf(statement),
                          statement_csv(statement))


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, as systemd's ``CPUAffinity=`` or
    ``taskset`` set it), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _warm() -> None:
    """A worker's start: it goes when its parent goes (even killed: ``kill -9`` leaves no
    worker behind), and what every statement needs is paid for once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True,
                         name="parent-watch").start()
    environment().get_template("statement.html")
    catalog("fa")
    check_pdf()  # Typst's compiler built, the fonts found and loaded
    # What is loaded by now lives as long as the worker: out of the collector's sight, its
    # full collections (while rendering) walk only what a statement makes. The garbage of
    # the start (the templates' compilation) is collected first, or it would stay.
    gc.collect()
    gc.freeze()


def _exit_with(parent: int) -> None:
    multiprocessing.connection.wait([parent])
    # At once, as the parent did: no interpreter shutdown waiting on a parent that is gone.
    os.kill(os.getpid(), signal.SIGKILL)


class Renderers:
    """``workers`` processes rendering statements (:func:`render_files`), started on entry
    and stopped on exit (what is not started yet is cancelled); 0 workers: a thread of
    this process."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    async def __aenter__(self) -> Renderers:
        if self.workers > 0:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_warm)
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    async def render(self, statement: Statement) -> StatementFiles:
        if self._pool is None:
            return await asyncio.to_thread(render_files, statement)
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, render_files, statement)
