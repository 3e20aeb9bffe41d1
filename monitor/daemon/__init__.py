"""The daemon's runtime, wired in :mod:`monitor.app`:

* :mod:`.watch`: :class:`~monitor.daemon.watch.Watch` runs each probe and turns results into
  incidents (R-M1, R-M4), asking :mod:`.blindness` whether the monitor itself can see (R-M2);
* :mod:`.detector`: the pure threshold logic (streaks in, incident events out);
* :mod:`.recorder`: probe history folded in memory, flushed in one transaction (R-M7);
* :mod:`.retention`: old probe history pruned in small batches (R-M7);
* :mod:`.heartbeat`: the daemon's own life; a gap is unknown time (R-M3);
* :mod:`.scheduler`: when each probe runs (exact periods, even offsets, no overlap);
* :mod:`.metrics`: the Prometheus metrics;
* :mod:`.loop`: which event loop runs it (uvloop or asyncio's own);
* :mod:`.systemd`: readiness, reload, stop and watchdog notifications to systemd.
"""
