"""Monitoring endpoints that answer without Ray: keys and unknown categories
(tests/integration/test_monitoring.py reads the Ray nodes and pools)."""

from __future__ import annotations


def test_an_unknown_category_has_no_metrics(api):
    reply = api.get("/api/metrics/category/astrology")
    assert reply.status_code == 404 and reply.json()["error"] == "not_found"


def test_monitoring_endpoints_need_a_key(stack):
    with stack.client(api_key="") as anonymous:
        for path in ("/api/metrics/workers", "/api/metrics/redis", "/api/metrics/category/ml"):
            assert anonymous.get(path).status_code == 401
