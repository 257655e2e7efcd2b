"""``analytics`` functions: group-by aggregates, anomaly detection, HTML reports.

Tables are read by their suffix: ``.parquet``/``.pq`` as Parquet, ``.json`` as a list of
objects (or JSON lines), anything else as CSV. Results are JSON-safe: NaN becomes null and
numpy scalars become plain numbers. Percentiles interpolate linearly between closest ranks
(numpy's and pandas' default); ``std`` is the sample standard deviation (ddof=1) in
aggregates and the population one (ddof=0) in z-scores.
"""

from __future__ import annotations

import datetime
import html
import math
import urllib.parse
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, Field

from vokaflow.domain import WorkerType
from vokaflow.functions.arguments import ArgumentConflict
from vokaflow.functions.context import report_progress
from vokaflow.functions.data_roots import DataPath, OutputPath, sibling
from vokaflow.functions.registry import function

if TYPE_CHECKING:
    import pandas as pd

Aggregation = Literal[
    "sum", "mean", "min", "max", "count", "median", "std", "p50", "p90", "p95", "p99"
]
AnomalyMethod = Literal["zscore", "iqr"]

DEFAULT_THRESHOLDS: dict[str, float] = {"zscore": 3.0, "iqr": 1.5}
ORDER_ONLY = {"count", "min", "max"}  # aggregations that need no numbers
MAX_CHART_SERIES = 10
PREVIEW_ROWS = 10

ColumnName = Annotated[str, Field(min_length=1, max_length=256)]


# --- shared ---------------------------------------------------------------------------


def read_frame(path: Path) -> pd.DataFrame:
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        return pd.read_parquet(path)
    if suffix in {".json", ".jsonl", ".ndjson"}:
        with path.open("rb") as stream:
            lines = not stream.read(4096).lstrip().startswith(b"[")
        return pd.read_json(path, orient="records", lines=lines)
    return pd.read_csv(path)


def require_columns(frame: pd.DataFrame, wanted: Sequence[str]) -> None:
    missing = [name for name in dict.fromkeys(wanted) if name not in frame.columns]
    if missing:
        raise ValueError(
            f"no such column(s): {', '.join(missing)}; "
            f"the file has: {', '.join(map(str, frame.columns))}"
        )


def require_numeric(frame: pd.DataFrame, columns: Sequence[str], why: str) -> None:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    bad = [c for c in columns if not is_numeric_dtype(frame[c]) or is_bool_dtype(frame[c])]
    if bad:
        raise ValueError(f"{why} needs numeric columns; not numeric: {', '.join(map(str, bad))}")


def plain(value: Any) -> Any:
    """A JSON-ready copy of one cell: numpy scalars unwrapped, NaN/NaT/inf as None, dates as
    ISO text, anything else unknown as text."""
    import numpy as np
    import pandas as pd

    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)


# --- aggregate_metrics ----------------------------------------------------------------


def percentile_of(aggregation: str) -> float | None:
    """0.9 for ``p90``; None for the named aggregations."""
    return int(aggregation[1:]) / 100 if aggregation.startswith("p") else None


def aggregate(
    frame: pd.DataFrame, group_by: Sequence[str], metrics: Mapping[str, Sequence[str]]
) -> list[dict[str, Any]]:
    """One record per group: the group's keys, then ``<column>_<aggregation>`` values."""
    import pandas as pd

    require_columns(frame, [*group_by, *metrics])
    for column, aggregations in metrics.items():
        if set(aggregations) - ORDER_ONLY:
            require_numeric(frame, [column], f"{', '.join(sorted(aggregations))} of {column!r}")
    if group_by:
        grouped: Any = frame.groupby(list(group_by), dropna=False, sort=True)
    else:  # the whole table as one group
        grouped = frame.groupby(lambda _: 0)
    results: dict[str, pd.Series] = {}
    for column, aggregations in metrics.items():
        for name in dict.fromkeys(aggregations):
            fraction = percentile_of(name)
            series = grouped[column]
            results[f"{column}_{name}"] = (
                series.quantile(fraction) if fraction is not None else series.agg(name)
            )
    table = pd.DataFrame(results)
    if group_by:
        table = table.reset_index()
    return [{str(key): plain(value) for key, value in row.items()} for row in _rows(table)]


def _rows(table: pd.DataFrame) -> list[dict[Any, Any]]:
    records: list[dict[Any, Any]] = table.to_dict(orient="records")
    return records


@function(
    category="analytics",
    worker_type=WorkerType.CPU_INTENSIVE,
    description="Groups a CSV or Parquet table and computes sums, means, counts and "
    "percentiles per group",
    estimated_duration="1-30 seconds",
)
def aggregate_metrics(
    file_path: DataPath,
    group_by: Annotated[list[ColumnName], Field(max_length=32)],
    metrics: Annotated[
        dict[ColumnName, Annotated[list[Aggregation], Field(min_length=1)]],
        Field(min_length=1, max_length=256),
    ],
) -> dict[str, Any]:
    frame = read_frame(Path(file_path))
    report_progress(0.3, rows=len(frame))
    groups = aggregate(frame, group_by, metrics)
    return {"groups": groups, "group_count": len(groups), "rows": len(frame)}


# --- detect_anomalies -----------------------------------------------------------------


def zscore_anomalies(values: Sequence[float | None], threshold: float) -> dict[str, Any]:
    """Values whose population z-score exceeds ``threshold`` in magnitude; none when every
    value is the same. Missing values (None, NaN) keep their index but are not judged."""
    import numpy as np

    indexed = _finite(values)
    data = np.array([v for _, v in indexed], dtype=float)
    if not len(data):
        return {"anomalies": [], "mean": None, "std": None}
    mean, std = float(data.mean()), float(data.std())
    anomalies = []
    if std:
        for index, value in indexed:
            score = (value - mean) / std
            if abs(score) > threshold:
                anomalies.append({"index": index, "value": value, "score": score})
    return {"anomalies": anomalies, "mean": mean, "std": std}


def iqr_anomalies(values: Sequence[float | None], k: float) -> dict[str, Any]:
    """Values outside [Q1 - k·IQR, Q3 + k·IQR]. The score is the distance past the nearer
    quartile in IQRs (negative below Q1), so a value is an anomaly when |score| > k; it is
    None when the IQR is 0, where every value off the quartile is an anomaly."""
    import numpy as np

    indexed = _finite(values)
    if not indexed:
        return {"anomalies": [], "q1": None, "q3": None, "lower": None, "upper": None}
    q1, q3 = (float(q) for q in np.percentile([v for _, v in indexed], [25, 75]))
    spread = q3 - q1
    lower, upper = q1 - k * spread, q3 + k * spread
    anomalies = []
    for index, value in indexed:
        if lower <= value <= upper:
            continue
        past = value - q3 if value > upper else value - q1
        score = past / spread if spread else None
        anomalies.append({"index": index, "value": value, "score": score})
    return {"anomalies": anomalies, "q1": q1, "q3": q3, "lower": lower, "upper": upper}


def _finite(values: Sequence[float | None]) -> list[tuple[int, float]]:
    return [
        (index, float(value))
        for index, value in enumerate(values)
        if value is not None and math.isfinite(value)
    ]


def column_values(path: Path, column: str) -> list[float | None]:
    frame = read_frame(path)
    require_columns(frame, [column])
    require_numeric(frame, [column], "anomaly detection")
    return [plain(value) for value in frame[column].tolist()]


def one_anomaly_source(arguments: dict[str, Any]) -> None:
    values, file_path, column = (arguments[k] for k in ("values", "file_path", "column"))
    if (values is None) == (file_path is None):
        raise ArgumentConflict("values", "give exactly one source: values, or file_path")
    if file_path is not None and column is None:
        raise ArgumentConflict("column", "file_path needs column: the column to examine")
    if values is not None and column is not None:
        raise ArgumentConflict("column", "column goes with file_path, not with values")


@function(
    category="analytics",
    worker_type=WorkerType.CPU_INTENSIVE,
    check=one_anomaly_source,
    description="Finds outliers in a list of numbers or a table column by z-score or IQR",
    estimated_duration="<5 seconds",
)
def detect_anomalies(
    values: Annotated[list[float], Field(min_length=1)] | None = None,
    file_path: DataPath | None = None,
    column: ColumnName | None = None,
    method: AnomalyMethod = "zscore",
    threshold: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None,
) -> dict[str, Any]:
    """``threshold``: the z-score beyond which a value is an anomaly (default 3), or for
    ``iqr`` the fence multiplier k (default 1.5)."""
    data: Sequence[float | None] = (
        values if values is not None else column_values(Path(str(file_path)), str(column))
    )
    limit = threshold if threshold is not None else DEFAULT_THRESHOLDS[method]
    found = zscore_anomalies(data, limit) if method == "zscore" else iqr_anomalies(data, limit)
    return {
        "method": method,
        "threshold": limit,
        "count": len(found["anomalies"]),
        "examined": len(_finite(data)),
        **found,
    }


# --- generate_report ------------------------------------------------------------------


def _html_file(value: str) -> str:
    if Path(value).suffix.lower() not in {".html", ".htm"}:
        raise ValueError("the report is HTML: output_path must end in .html or .htm")
    return value


def chart_columns(
    frame: pd.DataFrame, x_column: str | None, y_columns: Sequence[str] | None
) -> list[str]:
    """The columns to plot: those asked for, else up to MAX_CHART_SERIES numeric ones."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    if y_columns:
        require_numeric(frame, y_columns, "the chart")
        return list(dict.fromkeys(y_columns))
    numeric = [
        str(c)
        for c in frame.columns
        if c != x_column and is_numeric_dtype(frame[c]) and not is_bool_dtype(frame[c])
    ]
    return numeric[:MAX_CHART_SERIES]


def draw_chart(
    frame: pd.DataFrame, x_column: str | None, y_columns: Sequence[str], target: Path, title: str
) -> None:
    """Lines against a numeric or date x (or the row number); points per label against any
    other x, whose missing labels show as empty text."""
    import matplotlib

    matplotlib.use("Agg")  # no display on a worker
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 5), dpi=100)
    axes = figure.add_subplot()
    x: Any = frame.index
    line = "-"
    if x_column is not None:
        x, labelled = x_axis(frame[x_column])
        line = "" if labelled else "-"
    marker = "o" if len(frame) <= 50 or not line else None
    for column in y_columns:
        axes.plot(x, frame[column], label=literal(column), marker=marker, linestyle=line)
    axes.set_title(literal(title))
    axes.set_xlabel(literal(x_column or "row"))
    axes.grid(True, alpha=0.3)
    if len(y_columns) > 1:
        axes.legend()
    if x_column is not None and not is_numeric_dtype_of(frame[x_column]):
        figure.autofmt_xdate()  # slanted labels for dates and names
    figure.tight_layout()
    figure.savefig(target, format="png")


def literal(text: str) -> str:
    """Text that matplotlib shows as written: ``$`` would start its math notation."""
    return text.replace("$", r"\$")


def x_axis(series: pd.Series) -> tuple[Any, bool]:
    """The x values to plot and whether they are labels rather than a scale."""
    from pandas.api.types import is_datetime64_any_dtype

    if is_numeric_dtype_of(series) or is_datetime64_any_dtype(series):
        return series, False
    return series.astype(object).where(series.notna(), "").astype(str), True


def is_numeric_dtype_of(series: pd.Series) -> bool:
    from pandas.api.types import is_numeric_dtype

    return bool(is_numeric_dtype(series))


def summary_table(frame: pd.DataFrame) -> pd.DataFrame:
    from pandas.api.types import is_numeric_dtype

    has_numbers = any(is_numeric_dtype(frame[c]) for c in frame.columns)
    return frame.describe() if has_numbers else frame.describe(include="all")


def report_html(title: str, source: Path, frame: pd.DataFrame, chart_name: str | None) -> str:
    """The whole page; every piece of text from the data or the caller is escaped."""
    escaped_title = html.escape(title)
    table_options = {"escape": True, "na_rep": "", "border": 0, "classes": "table"}
    summary = summary_table(frame).to_html(float_format=lambda v: f"{v:.6g}", **table_options)
    preview = frame.head(PREVIEW_ROWS).to_html(index=False, **table_options)
    types = "".join(
        f"<tr><td>{html.escape(str(name))}</td><td>{html.escape(str(dtype))}</td></tr>"
        for name, dtype in frame.dtypes.items()
    )
    chart = (
        f'<img src="{html.escape(urllib.parse.quote(chart_name))}" alt="chart of {escaped_title}">'
        if chart_name
        else "<p>No numeric columns to chart.</p>"
    )
    generated = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escaped_title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }}
table.table {{ border-collapse: collapse; margin-bottom: 1.5em; }}
table.table td, table.table th {{ border: 1px solid #ccc; padding: 0.3em 0.6em; }}
img {{ max-width: 100%; }}
</style>
</head>
<body>
<h1>{escaped_title}</h1>
<p>Source: {html.escape(source.name)} &middot; {len(frame)} rows &middot;
{len(frame.columns)} columns &middot; generated {generated}</p>
<h2>Chart</h2>
{chart}
<h2>Summary statistics</h2>
{summary}
<h2>Columns</h2>
<table class="table"><tr><th>column</th><th>type</th></tr>{types}</table>
<h2>First rows</h2>
{preview}
</body>
</html>
"""


@function(
    category="analytics",
    worker_type=WorkerType.CPU_INTENSIVE,
    description="Writes an HTML report of a table: summary statistics and a PNG chart",
    estimated_duration="5-30 seconds",
)
def generate_report(
    file_path: DataPath,
    output_path: Annotated[OutputPath, AfterValidator(_html_file)],
    title: Annotated[str, Field(min_length=1, max_length=200)] = "Report",
    x_column: ColumnName | None = None,
    y_columns: Annotated[list[ColumnName], Field(min_length=1, max_length=20)] | None = None,
) -> dict[str, Any]:
    source, target = Path(file_path), Path(output_path)
    frame = read_frame(source)
    require_columns(frame, [*([x_column] if x_column else []), *(y_columns or [])])
    target.parent.mkdir(parents=True, exist_ok=True)
    plotted = chart_columns(frame, x_column, y_columns)
    chart_path = sibling(target, target.stem + ".png") if plotted and len(frame) else None
    if chart_path is not None:
        draw_chart(frame, x_column, plotted, chart_path, title)
    report_progress(0.7, chart=chart_path is not None)
    page = report_html(title, source, frame, chart_path.name if chart_path else None)
    target.write_text(page, encoding="utf-8")
    return {
        "path": str(target),
        "chart_path": str(chart_path) if chart_path else None,
        "rows": len(frame),
        "columns": [str(c) for c in frame.columns],
    }
