"""The Grafana dashboard in deployments/grafana, its PromQL queries and the metric names
they use, and the names in a Prometheus scrape: for the unit tier (the file's shape, the
extractor) and the integration tier (every name is one the service exports)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DASHBOARD = Path(__file__).resolve().parents[1] / "deployments" / "grafana" / "vokaflow.json"

KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "start",
    "end",
    "inf",
    "nan",
}
STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
GRAFANA_VARIABLES = re.compile(r"\$\{[^}]*\}|\$\w+")
MATCHERS = re.compile(r"\{[^{}]*\}")
RANGES = re.compile(r"\[[^\[\]]*\]")
GROUPINGS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
NUMBERS = re.compile(r"(?<![\w:])\d[\w.]*")  # 0.99, 1e3, 5m: never the start of a name
IDENTIFIER = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
FUNCTION_CALL = re.compile(r"\s*\(")
LABEL_VALUES = re.compile(r"label_values\((?:(.*),)?\s*\w+\s*\)", re.DOTALL)


def load_dashboard(path: Path = DASHBOARD) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text())
    return dashboard


def query_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel but rows, those inside collapsed rows included."""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def exprs(dashboard: dict[str, Any]) -> list[str]:
    """Every panel target's PromQL, and the template variables' queries."""
    queries = [t["expr"] for p in query_panels(dashboard) for t in p["targets"]]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        queries.append(query["query"] if isinstance(query, dict) else query)
    return queries


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a Grafana variable query) selects.

    What is left once strings, Grafana variables, label matchers, ranges, groupings and
    numbers are taken out is functions (followed by a parenthesis), keywords and names."""
    text = LABEL_VALUES.sub(r"(\1)", expr)  # label_values([selector,] label): a label last
    for pattern in (STRINGS, GRAFANA_VARIABLES, MATCHERS, RANGES, GROUPINGS, NUMBERS):
        text = pattern.sub(" ", text)
    names = set()
    for match in IDENTIFIER.finditer(text):
        name = match.group()
        called = FUNCTION_CALL.match(text, match.end())
        if not called and name.lower() not in KEYWORDS:
            names.add(name)
    return names


def dashboard_metric_names(dashboard: dict[str, Any]) -> set[str]:
    return {name for expr in exprs(dashboard) for name in metric_names(expr)}


def scraped_names(exposition: str) -> set[str]:
    """The sample names in a Prometheus text exposition (a histogram's ``_bucket``,
    ``_sum`` and ``_count`` as such)."""
    names = set()
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{\s]", line, maxsplit=1)[0])
    return names
