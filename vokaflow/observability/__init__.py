"""Structured logs and Prometheus metrics of the service's own processes."""
