"""deployments/grafana/vokaflow.json without a Grafana: an importable dashboard whose every
panel queries the Prometheus input; and the PromQL name extractor the integration test uses
(tests/integration/test_grafana_dashboard.py checks the names against a real scrape)."""

from __future__ import annotations

import pytest

from tests.grafana_dashboard import (
    dashboard_metric_names,
    exprs,
    load_dashboard,
    metric_names,
    query_panels,
    scraped_names,
)

DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}


@pytest.fixture(scope="module")
def dashboard():
    return load_dashboard()


def test_the_dashboard_is_an_import_with_a_prometheus_input(dashboard):
    [source] = dashboard["__inputs"]
    assert (source["name"], source["type"], source["pluginId"]) == (
        "DS_PROMETHEUS",
        "datasource",
        "prometheus",
    )
    assert dashboard["schemaVersion"] >= 39 and dashboard["uid"] == "vokaflow"
    assert dashboard["time"] == {"from": "now-1h", "to": "now"}
    assert dashboard["refresh"] == "10s"


def test_every_panel_has_the_datasource_and_queries(dashboard):
    panels = list(query_panels(dashboard))
    assert {p["type"] for p in panels} == {"timeseries", "stat", "bargauge"}
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert target["expr"].strip() and metric_names(target["expr"]), panel["title"]


def test_the_priority_variable_comes_from_the_services_label_values(dashboard):
    [variable] = dashboard["templating"]["list"]
    assert (variable["name"], variable["type"], variable["datasource"]) == (
        "priority",
        "query",
        DATASOURCE,
    )
    assert variable["multi"] and variable["includeAll"]


def test_the_wait_panel_repeats_per_priority_with_p99_and_the_sla(dashboard):
    [panel] = [p for p in query_panels(dashboard) if p.get("repeat") == "priority"]
    queries = {t["legendFormat"]: t["expr"] for t in panel["targets"]}
    assert queries["p99"].startswith("histogram_quantile(0.99,")
    assert "ray_vokaflow_queue_wait_seconds_bucket" in queries["p99"]
    assert metric_names(queries["SLA"]) == {"ray_vokaflow_sla_seconds"}


def test_the_dashboard_covers_the_issues_figures(dashboard):
    assert dashboard_metric_names(dashboard) >= {
        "ray_vokaflow_queue_depth",
        "ray_vokaflow_queue_wait_seconds_bucket",
        "ray_vokaflow_sla_seconds",
        "ray_vokaflow_sla_misses_total",
        "ray_vokaflow_tasks_finished_total",
        "ray_vokaflow_rate_limit_refusals_total",
        "ray_vokaflow_pool_occupancy",
        "ray_vokaflow_webhook_attempts_total",
    }
    assert all(expr.count("(") == expr.count(")") for expr in exprs(dashboard))


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('sum by (priority) (rate(a_total{priority=~"$priority"}[$__rate_interval]))', {"a_total"}),
        (
            "histogram_quantile(0.99, sum by (le, priority) (rate(wait_bucket[5m])))",
            {"wait_bucket"},
        ),
        ("sum(rate(x[1m])) by (job) / on (job) group_left sum(y offset 1h)", {"x", "y"}),
        ('a{le="+Inf", name="rate(b)"} and ignoring (instance) c', {"a", "c"}),
        ("max_over_time(a:recorded[1h:5m]) > bool 1e3", {"a:recorded"}),
        ("count without (pool) (sum (occupancy))", {"occupancy"}),
        ('label_values(ray_x{pool=~"$pool"}, priority)', {"ray_x"}),
        ("label_values(priority)", set()),
        ("query_result(sort(max by (priority) (sla)))", {"sla"}),
        ("vector(1) + Inf - NaN", set()),
    ],
)
def test_metric_names_are_what_the_expression_selects(expr, names):
    assert metric_names(expr) == names


def test_scraped_names_keep_a_histograms_suffixes():
    exposition = "\n".join(
        [
            "# HELP ray_wait_seconds Time waited",
            "# TYPE ray_wait_seconds histogram",
            'ray_wait_seconds_bucket{le="0.1",priority="HIGH"} 3.0',
            'ray_wait_seconds_sum{priority="HIGH"} 0.2',
            "ray_wait_seconds_count 3.0",
            "",
            "ray_up 1",
        ]
    )
    assert scraped_names(exposition) == {
        "ray_wait_seconds_bucket",
        "ray_wait_seconds_sum",
        "ray_wait_seconds_count",
        "ray_up",
    }
