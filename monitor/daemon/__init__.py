"""The daemon's runtime, built by :func:`monitor.daemon.runtime.build_runtime` and served by
:mod:`monitor.app`:

* :mod:`.runtime`: the parts, started in order and stopped in reverse (a failed start
  unwinds); a reload is every part's ``prepare`` then every part's ``apply``;
* :mod:`.jobs` and :mod:`.routine`: the periodic jobs as a table ``(id, every, leader_only,
  run)``, the leader check in one place;
* :mod:`.ownership`: who probes which target (alone, probe workers, cluster leases),
  chosen once at start;
* :mod:`.edge`: the HTTP server as a part (set up early, bound last);
* :mod:`.watch`: :class:`~monitor.daemon.watch.Watch` runs each probe and turns results into
  incidents (R-M1, R-M4), asking :mod:`.blindness` whether the monitor itself can see (R-M2);
* :mod:`.detector`: the pure threshold logic (streaks in, incident events out);
* :mod:`.incident_book`: incident events written in order, then announced;
* :mod:`.certificates`: certificates read at their own cadence;
* :mod:`.recorder`: probe history folded in memory, flushed in one transaction (R-M7);
* :mod:`.retention`: old probe history pruned in small batches (R-M7);
* :mod:`.heartbeat`: the daemon's own life; a gap is unknown time (R-M3);
* :mod:`.scheduler`: when each probe runs (exact periods, even offsets, no overlap);
* :mod:`.metrics`: the Prometheus metrics;
* :mod:`.loop`: which event loop runs it (uvloop or asyncio's own);
* :mod:`.systemd`: readiness, reload, stop and watchdog notifications to systemd.
"""
