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


def test_cli_submit_with_a_delay_is_scheduled_and_runs_after_its_run_at(stack):
    done = json.loads(stack.cli("submit", "noop", "--delay", "1.5", "--wait").stdout)
    assert done["status"] == "completed"
    assert done["started_at"] >= done["run_at"]  # both naive UTC ISO 8601


def test_cli_schedules_create_list_show_pause_resume_delete(stack):
    made = json.loads(
        stack.cli(
            "schedules", "create", "noop", "--cron", "0 3 * * *", "--timezone", "Europe/Madrid"
        ).stdout
    )
    schedule_id = made["id"]
    assert len(made["next_fire_times"]) == 5 and made["timezone"] == "Europe/Madrid"
    listed = json.loads(stack.cli("schedules", "list", "--limit", "1000").stdout)
    assert schedule_id in [s["id"] for s in listed["schedules"]]
    assert json.loads(stack.cli("schedules", "pause", schedule_id).stdout)["paused"] is True
    assert json.loads(stack.cli("schedules", "resume", schedule_id).stdout)["paused"] is False
    assert json.loads(stack.cli("schedules", "show", schedule_id).stdout)["cron"] == "0 3 * * *"
    assert json.loads(stack.cli("schedules", "delete", schedule_id).stdout)["id"] == schedule_id
    gone = stack.cli("schedules", "show", schedule_id, check=False)
    assert gone.returncode == 1 and json.loads(gone.stdout)["error"] == "not_found"
