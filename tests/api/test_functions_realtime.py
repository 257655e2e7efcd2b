"""publish_event's arguments, checked at submit
(tests/integration/test_functions_realtime.py publishes)."""

from __future__ import annotations

from tests.api.submits import SUBMIT


def test_publish_event_refuses_names_that_are_not_slugs_and_unknown_modes(api):
    cases = [
        ({"stream": "../x", "event": {}}, "kwargs.stream"),
        ({"stream": "a b", "event": {}}, "kwargs.stream"),
        ({"stream": "ok", "event": "text"}, "kwargs.event"),
        ({"stream": "ok", "event": {}, "mode": "queue"}, "kwargs.mode"),
        ({"stream": "ok", "event": {}, "maxlen": 0}, "kwargs.maxlen"),
    ]
    for kwargs, field in cases:
        reply = api.post(
            SUBMIT, json={"name": "bad", "function_name": "publish_event", "kwargs": kwargs}
        )
        assert reply.status_code == 400, reply.text
        assert reply.json()["details"]["field"] == field, kwargs
