"""A plugin's functions in the catalog, its category's default limit and its argument
checks (tests/integration/test_plugins.py runs them)."""

from __future__ import annotations


def test_a_plugins_functions_are_listed_under_their_own_category(api):
    body = api.get("/api/high-scale-tasks/functions").json()
    assert "weather" in body["categories"]
    names = {f["name"] for f in body["functions"]["weather"]}
    assert names == {"to_fahrenheit", "average_readings"}


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
