"""The user's own functions (tests/plugins/weather_functions.py, loaded by the test stack's
VOKAFLOW_PLUGINS): listed under their own category, sync and async, with progress."""

from __future__ import annotations

from tests.integration.helpers import submit, wait_until


def test_a_sync_plugin_function_runs_as_a_task(api):
    task = submit(api, "weather.to_fahrenheit", 100)
    done = wait_until(api, task["task_id"])
    assert done["status"] == "completed" and done["result"] == 212.0
    assert done["category"] == "weather"


def test_an_async_plugin_function_runs_and_reports_progress(api):
    task = submit(api, "average_readings", [10, 20, 30, 40])
    done = wait_until(api, task["task_id"])
    assert done["status"] == "completed", done
    assert done["result"] == {"average": 25.0, "count": 4}
    assert done["progress"]["fraction"] == 1.0 and done["progress"]["readings_done"] == 4
