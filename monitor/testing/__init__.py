"""Testing helpers that ship with the package: real local servers, not mocks of them.

* :mod:`monitor.testing.targets`: aiohttp target servers on 127.0.0.1 (normal and
  hostile endpoints, HTTPS with generated certificates) that can go down and
  come back on the same port;
* :mod:`monitor.testing.smtp`: an aiosmtpd SMTP sink with switchable faults;
* :mod:`monitor.testing.dns`: a nameserver on 127.0.0.1 (UDP and TCP) in every mode a
  DNS probe can fail in;
* :mod:`monitor.testing.push`: a push target's job, calling in until told to stop.

Tests, the demo and the benchmarks all use them. Import the submodule you need;
this package imports nothing, so the daemon never loads test-only code.
"""
