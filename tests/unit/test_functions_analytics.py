from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest

from vokaflow.functions.analytics import (
    aggregate_metrics,
    detect_anomalies,
    generate_report,
    iqr_anomalies,
    literal,
    one_anomaly_source,
    percentile_of,
    plain,
    zscore_anomalies,
)
from vokaflow.functions.arguments import ArgumentError
from vokaflow.functions.data_roots import validation_context
from vokaflow.functions.registry import registry

SALES = "region,product,amount,units\n" + "".join(
    f"{region},{product},{amount},{units}\n"
    for region, product, amount, units in [
        ("north", "tea", 10.0, 1),
        ("north", "tea", 20.0, 2),
        ("north", "cake", 30.0, 3),
        ("south", "tea", 5.0, 4),
        ("south", "cake", 7.5, 5),
        ("south", "cake", 12.5, 6),
        ("", "tea", 1.0, 7),
    ]
)
STEADY = [10.0, 11.0, 9.0, 10.0, 12.0, 10.0, 11.0, 9.0, 10.0, 10.0, 11.0, 9.0, 10.0, 12.0]


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("VOKAFLOW_DATA_ROOTS", str(data))  # outside a task, roots come from here
    (data / "sales.csv").write_text(SALES)
    return data


def _validated(name: str, root: Path, **kwargs: object) -> dict[str, object]:
    return registry.get(name).validated([], kwargs, validation_context([root]))[1]


def test_percentile_names_become_fractions():
    assert percentile_of("p90") == 0.9
    assert percentile_of("p50") == 0.5
    assert percentile_of("mean") is None


def test_cells_become_plain_json_values():
    import numpy as np
    import pandas as pd

    assert plain(np.int64(3)) == 3 and type(plain(np.int64(3))) is int
    assert plain(np.float64("nan")) is None
    assert plain(float("inf")) is None
    assert plain(pd.NaT) is None
    assert plain(pd.Timestamp("2024-01-02T03:04:05")) == "2024-01-02T03:04:05"


def test_aggregates_per_group_match_values_computed_by_hand(root: Path):
    result = aggregate_metrics(
        str(root / "sales.csv"), ["region"], {"amount": ["sum", "mean", "p90"], "units": ["max"]}
    )
    north = next(g for g in result["groups"] if g["region"] == "north")
    assert north["amount_sum"] == 60.0 and north["amount_mean"] == 20.0
    assert north["amount_p90"] == pytest.approx(
        statistics.quantiles([10.0, 20.0, 30.0], n=10, method="inclusive")[8]
    )
    assert north["units_max"] == 3
    assert result["group_count"] == 3
    missing = next(g for g in result["groups"] if g["region"] is None)
    assert missing["amount_sum"] == 1.0
    json.dumps(result, allow_nan=False)


def test_no_group_columns_aggregate_the_whole_table(root: Path):
    result = aggregate_metrics(str(root / "sales.csv"), [], {"units": ["sum", "std", "count"]})
    assert result["groups"] == [
        {
            "units_sum": 28,
            "units_std": pytest.approx(statistics.stdev(range(1, 8))),
            "units_count": 7,
        }
    ]


def test_a_single_row_group_has_a_null_standard_deviation(root: Path):
    result = aggregate_metrics(str(root / "sales.csv"), ["region", "product"], {"amount": ["std"]})
    empty_region = next(g for g in result["groups"] if g["region"] is None)
    assert empty_region["amount_std"] is None


def test_unknown_and_non_numeric_columns_get_clear_errors(root: Path):
    with pytest.raises(ValueError, match=r"no such column\(s\): colour; the file has: region"):
        aggregate_metrics(str(root / "sales.csv"), ["colour"], {"amount": ["sum"]})
    with pytest.raises(ValueError, match="not numeric: product"):
        aggregate_metrics(str(root / "sales.csv"), ["region"], {"product": ["mean"]})


def test_count_min_and_max_work_on_text_columns(root: Path):
    result = aggregate_metrics(str(root / "sales.csv"), [], {"product": ["count", "min", "max"]})
    assert result["groups"] == [{"product_count": 7, "product_min": "cake", "product_max": "tea"}]


def test_an_unknown_aggregation_is_refused_naming_the_field(root: Path):
    with pytest.raises(ArgumentError) as raised:
        _validated(
            "aggregate_metrics", root, file_path="sales.csv", group_by=[], metrics={"a": ["avg"]}
        )
    assert raised.value.field == "kwargs.metrics.a[0]"


def test_zscore_finds_the_outlier_with_population_std():
    values = [*STEADY, 100.0]
    found = zscore_anomalies(values, 3.0)
    assert [a["index"] for a in found["anomalies"]] == [len(STEADY)]
    assert found["std"] == pytest.approx(statistics.pstdev(values))
    assert found["anomalies"][0]["score"] == pytest.approx(
        (100.0 - statistics.fmean(values)) / statistics.pstdev(values)
    )


def test_zscore_of_identical_values_finds_nothing():
    assert zscore_anomalies([4.0] * 10, 0.1)["anomalies"] == []


def test_iqr_fences_use_the_threshold_as_multiplier():
    values = [*STEADY, -50.0, 100.0]
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    found = iqr_anomalies(values, 1.5)
    assert (found["q1"], found["q3"]) == (pytest.approx(q1), pytest.approx(q3))
    assert found["lower"] == pytest.approx(q1 - 1.5 * (q3 - q1))
    assert [(a["index"], a["score"]) for a in found["anomalies"]] == [
        (len(STEADY), pytest.approx((-50.0 - q1) / (q3 - q1))),
        (len(STEADY) + 1, pytest.approx((100.0 - q3) / (q3 - q1))),
    ]


def test_iqr_of_mostly_equal_values_flags_the_others_without_a_score():
    found = iqr_anomalies([1.0, 1.0, 1.0, 1.0, 5.0], 1.5)
    assert found["anomalies"] == [{"index": 4, "value": 5.0, "score": None}]


def test_missing_values_keep_their_index_but_are_not_judged():
    found = zscore_anomalies([*STEADY, None, math.nan, 100.0], 3.0)
    assert [a["index"] for a in found["anomalies"]] == [len(STEADY) + 2]


def test_the_default_threshold_depends_on_the_method():
    assert detect_anomalies(values=STEADY)["threshold"] == 3.0
    assert detect_anomalies(values=STEADY, method="iqr")["threshold"] == 1.5


def test_a_file_column_is_a_source_too(root: Path):
    result = detect_anomalies(file_path=str(root / "sales.csv"), column="amount", method="iqr")
    assert result["examined"] == 7 and result["method"] == "iqr"


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"values": [1.0], "file_path": "x.csv", "column": "a"},
        {"file_path": "x.csv"},
        {"values": [1.0], "column": "a"},
    ],
)
def test_exactly_one_source_is_required(kwargs):
    with pytest.raises(ValueError, match=r"source|column"):
        one_anomaly_source({"values": None, "file_path": None, "column": None, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"values": [1.0], "threshold": "high"}, "kwargs.threshold"),
        ({"values": [1.0], "threshold": -1}, "kwargs.threshold"),
        ({"values": "1,2,3"}, "kwargs.values"),
        ({"values": [1.0], "method": "mad"}, "kwargs.method"),
    ],
)
def test_bad_anomaly_arguments_are_refused_naming_the_field(root: Path, kwargs, field):
    with pytest.raises(ArgumentError) as raised:
        _validated("detect_anomalies", root, **kwargs)
    assert raised.value.field == field


def test_a_report_escapes_text_and_links_its_chart(root: Path):
    result = generate_report(
        str(root / "sales.csv"), str(root / "out" / "r.html"), title="<script>x</script> $5"
    )
    page = (root / "out" / "r.html").read_text()
    assert "&lt;script&gt;x&lt;/script&gt; $5" in page and "<script>" not in page
    assert '<img src="r.png"' in page
    assert Path(result["chart_path"]).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert result["rows"] == 7 and result["columns"] == ["region", "product", "amount", "units"]


def test_a_report_plots_chosen_columns_against_a_label_column(root: Path):
    result = generate_report(
        str(root / "sales.csv"), str(root / "r2.html"), x_column="region", y_columns=["amount"]
    )
    assert Path(result["chart_path"]).exists()
    with pytest.raises(ValueError, match="not numeric: product"):
        generate_report(str(root / "sales.csv"), str(root / "r3.html"), y_columns=["product"])


def test_a_report_of_text_only_data_has_no_chart(root: Path):
    (root / "words.csv").write_text("word\nhello\nworld\n")
    result = generate_report(str(root / "words.csv"), str(root / "w.html"))
    assert result["chart_path"] is None
    assert "No numeric columns" in (root / "w.html").read_text()


def test_a_report_must_be_written_to_an_html_file(root: Path):
    with pytest.raises(ArgumentError) as raised:
        _validated("generate_report", root, file_path="sales.csv", output_path="r.png")
    assert raised.value.field == "kwargs.output_path"


def test_dollar_signs_are_shown_literally_in_charts():
    assert literal("costs $5 and $6") == r"costs \$5 and \$6"
