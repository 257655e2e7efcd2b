"""``analytics`` functions: group-by aggregates, anomaly detection, HTML reports."""

from __future__ import annotations
