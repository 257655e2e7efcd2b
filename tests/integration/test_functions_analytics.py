"""The analytics functions through the real HTTP API, on tables written into the stack's data
root: aggregates against values computed here, outliers by both methods, an HTML report with
its chart, and bad input refused at submit."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest

from tests.integration.helpers import submit, wait_until

SUBMIT = "/api/high-scale-tasks/submit"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
ROWS = [
    ("north", "tea", 10.0, 1),
    ("north", "tea", 20.0, 2),
    ("north", "cake", 35.5, 3),
    ("north", "cake", 41.0, 4),
    ("south", "tea", 5.0, 5),
    ("south", "cake", 7.5, 6),
    ("south", "cake", 12.25, 7),
]
STEADY = [10.0, 11.0, 9.0, 10.0, 12.0, 10.0, 11.0, 9.0, 10.0, 10.0, 11.0, 9.0, 10.0, 12.0]


@pytest.fixture(scope="module")
def folder(data_root: Path) -> Path:
    base = data_root / "analytics-it"
    base.mkdir(parents=True, exist_ok=True)
    (base / "sales.csv").write_text(
        "region,product,amount,units\n" + "".join(f"{r},{p},{a},{u}\n" for r, p, a, u in ROWS)
    )
    (base / "readings.csv").write_text(
        "day,reading\n" + "".join(f"{day},{v}\n" for day, v in enumerate([*STEADY, 250.0]))
    )
    outside = data_root.parent / "outside-analytics-it.csv"
    outside.write_text("a\n1\n")
    (base / "escape.csv").symlink_to(outside)
    return base


def _run(api: Any, function_name: str, **kwargs: Any) -> dict[str, Any]:
    task = submit(api, function_name, kwargs=kwargs, retry_count=0)
    done = wait_until(api, task["task_id"])
    assert done["status"] == "completed", done
    result: dict[str, Any] = done["result"]
    return result


def _failed(api: Any, function_name: str, **kwargs: Any) -> str:
    task = submit(api, function_name, kwargs=kwargs, retry_count=0)
    done = wait_until(api, task["task_id"])
    assert done["status"] == "failed", done
    message: str = done["error"]["message"]
    return message


def _refused(api: Any, function_name: str, **kwargs: Any) -> dict[str, Any]:
    reply = api.post(SUBMIT, json={"name": "bad", "function_name": function_name, "kwargs": kwargs})
    assert reply.status_code == 400, reply.text
    body: dict[str, Any] = reply.json()
    assert body["error"] == "validation_error"
    return body["details"]


def test_aggregates_per_group_equal_sums_means_and_p90_computed_here(api, folder):
    result = _run(
        api,
        "aggregate_metrics",
        file_path="analytics-it/sales.csv",
        group_by=["region"],
        metrics={"amount": ["sum", "mean", "p90", "count"], "units": ["max"]},
    )
    assert result["group_count"] == 2
    for group in result["groups"]:
        amounts = [a for r, _, a, _ in ROWS if r == group["region"]]
        assert group["amount_sum"] == pytest.approx(sum(amounts))
        assert group["amount_mean"] == pytest.approx(statistics.fmean(amounts))
        assert group["amount_p90"] == pytest.approx(
            statistics.quantiles(amounts, n=10, method="inclusive")[8]
        )
        assert group["amount_count"] == len(amounts)
        assert group["units_max"] == max(u for r, _, _, u in ROWS if r == group["region"])


def test_aggregates_over_two_group_columns_name_both_keys(api, folder):
    result = _run(
        api,
        "aggregate_metrics",
        file_path=str(folder / "sales.csv"),
        group_by=["region", "product"],
        metrics={"units": ["sum"]},
    )
    assert {(g["region"], g["product"]): g["units_sum"] for g in result["groups"]} == {
        ("north", "cake"): 7,
        ("north", "tea"): 3,
        ("south", "cake"): 13,
        ("south", "tea"): 5,
    }


def test_an_unknown_column_fails_with_the_columns_the_file_has(api, folder):
    message = _failed(
        api,
        "aggregate_metrics",
        file_path="analytics-it/sales.csv",
        group_by=["colour"],
        metrics={"amount": ["sum"]},
    )
    assert "no such column(s): colour" in message and "region" in message


@pytest.mark.parametrize("method", ["zscore", "iqr"])
def test_an_obvious_outlier_in_a_list_is_found(api, method):
    result = _run(api, "detect_anomalies", values=[*STEADY, 250.0], method=method)
    assert result["method"] == method
    assert result["count"] == 1
    assert result["anomalies"][0]["index"] == len(STEADY)
    assert result["anomalies"][0]["value"] == 250.0
    assert result["threshold"] == (3.0 if method == "zscore" else 1.5)
    statistics_shown = {"mean", "std"} if method == "zscore" else {"q1", "q3"}
    assert statistics_shown <= set(result)


@pytest.mark.parametrize("method", ["zscore", "iqr"])
def test_an_obvious_outlier_in_a_file_column_is_found(api, folder, method):
    result = _run(
        api,
        "detect_anomalies",
        file_path="analytics-it/readings.csv",
        column="reading",
        method=method,
    )
    assert [a["index"] for a in result["anomalies"]] == [len(STEADY)]


def test_two_sources_or_none_are_refused_at_submit_naming_the_field(api, folder):
    both = _refused(
        api,
        "detect_anomalies",
        values=[1.0, 2.0],
        file_path="analytics-it/readings.csv",
        column="reading",
    )
    assert both["field"] == "kwargs.values" and "exactly one source" in both["error"]
    assert _refused(api, "detect_anomalies", method="iqr")["field"] == "kwargs.values"
    no_column = _refused(api, "detect_anomalies", file_path="analytics-it/readings.csv")
    assert no_column["field"] == "kwargs.column"


def test_a_report_has_the_title_and_a_png_chart_next_to_it(api, folder):
    result = _run(
        api,
        "generate_report",
        file_path="analytics-it/sales.csv",
        output_path="reports/sales.html",
        title="Sales <2024> & more",
        x_column="units",
        y_columns=["amount"],
    )
    page = Path(result["path"]).read_text()
    assert "Sales &lt;2024&gt; &amp; more" in page
    chart = Path(result["chart_path"])
    assert chart.parent == Path(result["path"]).parent
    assert f'<img src="{chart.name}"' in page
    assert chart.read_bytes().startswith(PNG_MAGIC)
    assert result["rows"] == len(ROWS)
    assert result["columns"] == ["region", "product", "amount", "units"]


@pytest.mark.parametrize(
    ("function_name", "kwargs", "field"),
    [
        ("detect_anomalies", {"values": [1.0, 2.0], "threshold": "high"}, "kwargs.threshold"),
        ("detect_anomalies", {"values": [1.0, 2.0], "threshold": 0}, "kwargs.threshold"),
        ("detect_anomalies", {"values": "1,2"}, "kwargs.values"),
        ("detect_anomalies", {"values": [1.0], "method": "mad"}, "kwargs.method"),
        (
            "aggregate_metrics",
            {"file_path": "analytics-it/sales.csv", "group_by": "region", "metrics": {}},
            "kwargs.group_by",
        ),
        (
            "aggregate_metrics",
            {
                "file_path": "analytics-it/sales.csv",
                "group_by": [],
                "metrics": {"amount": ["average"]},
            },
            "kwargs.metrics.amount[0]",
        ),
        (
            "generate_report",
            {"file_path": "analytics-it/sales.csv", "output_path": "r.pdf"},
            "kwargs.output_path",
        ),
        (
            "generate_report",
            {"file_path": "analytics-it/sales.csv", "output_path": "r.html", "y_columns": "a"},
            "kwargs.y_columns",
        ),
    ],
)
def test_mistyped_arguments_get_a_400_naming_the_field(api, folder, function_name, kwargs, field):
    assert _refused(api, function_name, **kwargs)["field"] == field


@pytest.mark.parametrize(
    ("function_name", "extra"),
    [
        ("aggregate_metrics", {"group_by": [], "metrics": {"a": ["sum"]}}),
        ("detect_anomalies", {"column": "a"}),
        ("generate_report", {"output_path": "r.html"}),
    ],
)
@pytest.mark.parametrize("path", ["../etc/passwd", "/etc/passwd", "analytics-it/escape.csv"])
def test_paths_outside_the_data_root_get_a_400(api, folder, function_name, extra, path):
    details = _refused(api, function_name, file_path=path, **extra)
    assert details["field"] == "kwargs.file_path"


def test_a_report_written_outside_the_data_root_gets_a_400(api, folder):
    details = _refused(
        api,
        "generate_report",
        file_path="analytics-it/sales.csv",
        output_path="../report.html",
    )
    assert details["field"] == "kwargs.output_path"
