"""Bad input gets the spec's 400 body naming the field, never a 500."""

from __future__ import annotations

import pytest

PRIORITY_ERROR = (
    "Invalid priority level. Must be one of: EMERGENCY, CRITICAL, HIGH, NORMAL, LOW, BATCH, "
    "BACKGROUND, MAINTENANCE"
)
SUBMIT = "/api/high-scale-tasks/submit"


def _post_raw(api, body: bytes, content_type: str = "application/json"):
    return api.post(SUBMIT, content=body, headers={"Content-Type": content_type})


def test_an_invalid_priority_gets_the_spec_body(api):
    reply = api.post(SUBMIT, json={"name": "x", "function_name": "noop", "priority": "URGENT"})
    assert reply.status_code == 400
    body = reply.json()
    assert body["error"] == "validation_error"
    assert body["message"] == "Invalid request parameters"
    assert body["details"] == {"field": "priority", "error": PRIORITY_ERROR}
    assert "timestamp" in body


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"name": "x",', "body"),
        (b"not json at all", "body"),
        (b"", "body"),
        (b"[1, 2]", "body"),
        (b'{"function_name": "noop"}', "name"),
        (b'{"name": "x"}', "function_name"),
        (b'{"name": "x", "function_name": "noop", "timeout": "soon"}', "timeout"),
        (b'{"name": "x", "function_name": "noop", "args": "abc"}', "args"),
        (b'{"name": "x", "function_name": "noop", "kwargs": [1]}', "kwargs"),
        (b'{"name": 12, "function_name": "noop"}', "name"),
        (b'{"name": "x", "function_name": "noop", "worker_type": "GPU"}', "worker_type"),
        (b'{"name": "x", "function_name": "noop", "retry_count": -1}', "retry_count"),
        (b'{"name": "x", "function_name": "noop", "timeout": 0}', "timeout"),
        (b'{"name": "x", "function_name": "no_such_function"}', "function_name"),
        (b'{"name": "x", "function_name": "sleep", "args": [1, 2, 3]}', "args"),
        (b'{"name": "x", "function_name": "noop", "category": "astrology"}', "category"),
        (b'{"name": "x", "function_name": "noop", "colour": "red"}', "colour"),
        (b'{"name": null, "function_name": "noop"}', "name"),
        (b'{"name": "x", "function_name": null}', "function_name"),
        (b'{"name": "\\ud800", "function_name": "noop"}', "name"),
        (b'{"name": "x", "function_name": "echo", "args": ["\\udfff"]}', "args"),
        (b'{"name": "x", "function_name": "echo", "args": ' + b"[" * 40 + b"]" * 40 + b"}", "args"),
        (
            b'{"name": "x", "function_name": "echo", "args": '
            + b"[" * 100_000
            + b"]" * 100_000
            + b"}",
            "body",
        ),
        (b'{"name": "x", "function_name": "echo", "args": ["' + b"a" * 300_000 + b'"]}', "args"),
        (
            b'{"name": "x", "function_name": "noop", "metadata": {"k": "' + b"b" * 300_000 + b'"}}',
            "metadata",
        ),
        (b'{"name": "x", "function_name": "noop", "timeout": 1e400}', "timeout"),
        (b'{"name": "x", "function_name": "noop", "priority": ["HIGH"]}', "priority"),
        (b'{"name": "x", "function_name": "noop", "retry_count": true}', "retry_count"),
    ],
)
def test_malformed_or_mistyped_submits_get_a_400_naming_the_field(api, raw, field):
    reply = _post_raw(api, raw)
    assert reply.status_code == 400, reply.text
    body = reply.json()
    assert body["error"] == "validation_error"
    assert body["details"]["field"] == field


def test_a_json_body_sent_with_curls_default_form_type_is_read_as_json(api):
    raw = b'{"name": "x", "function_name": "noop"}'
    reply = _post_raw(api, raw, "application/x-www-form-urlencoded")
    assert reply.status_code == 200, reply.text


def test_unicode_names_and_arguments_are_kept_as_sent(api):
    name = "tâche 任务 ✓ \u0000 end"
    reply = api.post(SUBMIT, json={"name": name, "function_name": "echo", "args": ["héllo ✓"]})
    assert reply.status_code == 200, reply.text
    status = api.get(f"/api/high-scale-tasks/status/{reply.json()['task_id']}").json()
    assert status["name"] == name


def test_lowercase_priority_names_are_accepted(api):
    reply = api.post(SUBMIT, json={"name": "x", "function_name": "noop", "priority": "high"})
    assert reply.status_code == 200
    assert reply.json()["priority"] == "HIGH"


def test_a_body_over_the_size_limit_gets_413(api):
    huge = {"name": "x", "function_name": "noop", "metadata": {"blob": "a" * 2_000_000}}
    reply = api.post(SUBMIT, json=huge)
    assert reply.status_code == 413
    assert reply.json()["error"] == "payload_too_large"


def test_an_unknown_route_gets_a_json_404(api):
    reply = api.get("/api/nothing-here")
    assert reply.status_code == 404
    assert reply.json()["error"] == "not_found"
