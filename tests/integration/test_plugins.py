"""The user's own functions (tests/plugins/weather_functions.py, loaded by the test stack's
VOKAFLOW_PLUGINS): listed under their own category, sync and async, with progress."""

from __future__ import annotations

from tests.integration.helpers import submit, wait_until


def test_a_plugins_functions_are_listed_under_their_own_category(api):
    body = api.get("/api/high-scale-tasks/functions").json()
    assert "weather" in body["categories"]
    names = {f["name"] for f in body["functions"]["weather"]}
    assert names == {"to_fahrenheit", "average_readings"}


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


def test_a_plugin_category_gets_the_default_rate_limit(api):
    body = api.get("/api/metrics/category/weather").json()
    assert body["rate_limit"]["limit_per_second"] == 1_000
    assert body["rate_limit"]["burst"] == 2_000


def test_bad_arguments_to_a_plugin_function_get_400(api):
    reply = api.post(
        "/api/high-scale-tasks/submit",
        json={"name": "x", "function_name": "to_fahrenheit", "args": [1, 2]},
    )
    assert reply.status_code == 400 and reply.json()["details"]["field"] == "args"
