"""Log queries out of range (tests/integration/test_logs.py reads the logs of real tasks)."""

from __future__ import annotations


def test_log_queries_out_of_range_get_400_naming_the_field(api):
    bad = [
        ({"level": "LOUD"}, "level"),
        ({"limit": 0}, "limit"),
        ({"component": "db"}, "component"),
    ]
    for params, field in bad:
        reply = api.get("/api/logs", params=params)
        assert reply.status_code == 400
        assert reply.json()["details"]["field"] == field
    assert api.get("/api/logs", params={"limit": 1001}).status_code == 400
