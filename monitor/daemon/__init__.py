"""The daemon's runtime: scheduling, detection, probe history, heartbeat and metrics."""
