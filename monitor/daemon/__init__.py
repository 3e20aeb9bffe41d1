"""The daemon's runtime: scheduling, detection, probe history, heartbeat, metrics, and
its systemd integration (readiness, reload, stop and watchdog notifications)."""
