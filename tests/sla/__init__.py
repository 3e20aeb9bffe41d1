"""Tests of the pure SLA engine, one module per rule family (``monitor/sla``)."""
