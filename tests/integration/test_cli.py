"""The CLI against the running service."""

from __future__ import annotations

import json


def test_cli_submit_wait_prints_the_completed_task(stack):
    run = stack.cli("submit", "statistical_summary", "[3, 5, 7]", "--priority", "HIGH", "--wait")
    body = json.loads(run.stdout)
    assert body["status"] == "completed"
    assert body["priority"] == "HIGH"
    assert body["result"]["mean"] == 5.0


def test_cli_status_prints_a_task_by_id(stack):
    submitted = json.loads(stack.cli("submit", "noop").stdout)
    shown = json.loads(stack.cli("status", submitted["task_id"]).stdout)
    assert shown["task_id"] == submitted["task_id"]


def test_cli_submit_of_an_unknown_function_exits_non_zero_with_the_error(stack):
    run = stack.cli("submit", "no_such_function", check=False)
    assert run.returncode == 1
    assert json.loads(run.stdout)["details"]["field"] == "function_name"


def test_a_bad_setting_fails_with_a_message_naming_the_variable(stack):
    env = {**stack.env, "VOKAFLOW_PORT": "eighty"}
    import subprocess

    from tests.conftest import VOKAFLOW

    run = subprocess.run([VOKAFLOW, "status", "x"], env=env, capture_output=True, text=True)
    assert run.returncode == 2
    assert "VOKAFLOW_PORT" in run.stderr
