"""The system functions' arguments and rights, checked at submit
(tests/integration/test_functions_system.py runs them)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.submits import SUBMIT
from tests.integration.helpers import user_client


def _post(api, function_name: str, **kwargs: Any):
    body = {"name": f"test {function_name}", "function_name": function_name, "kwargs": kwargs}
    return api.post(SUBMIT, json={**body, "retry_count": 0})


@pytest.mark.parametrize(
    ("function_name", "kwargs", "field"),
    [
        ("cache_cleanup", {"older_than_hours": -1}, "kwargs.older_than_hours"),
        ("cache_cleanup", {"older_than_hours": "soon"}, "kwargs.older_than_hours"),
        ("log_rotation", {"keep": 0}, "kwargs.keep"),
        ("log_rotation", {"max_bytes": "big"}, "kwargs.max_bytes"),
        ("backup_state", {"label": "../x"}, "kwargs.label"),
        ("backup_state", {"label": "a b"}, "kwargs.label"),
    ],
)
def test_bad_arguments_get_400_naming_the_field(api, function_name, kwargs, field):
    reply = _post(api, function_name, **kwargs)
    assert reply.status_code == 400, reply.text
    assert reply.json()["details"]["field"] == field


@pytest.mark.parametrize("function_name", ["backup_state", "cache_cleanup", "log_rotation"])
def test_housekeeping_that_reaches_every_tenant_is_refused_to_a_user_key(stack, function_name):
    with user_client(stack, "housekeeping-user") as user:
        reply = user.post(
            "/api/high-scale-tasks/submit", json={"name": "x", "function_name": function_name}
        )
    assert reply.status_code == 400
    assert reply.json()["details"]["field"] == "function_name"
    assert "only admin keys" in reply.json()["details"]["error"]


def test_a_health_check_given_arguments_it_does_not_take_gets_400(api):
    reply = api.post(
        "/api/high-scale-tasks/submit",
        json={"name": "x", "function_name": "health_check", "args": [1], "kwargs": {"deep": True}},
    )
    assert reply.status_code == 400
    assert reply.json()["details"]["field"] == "args"
