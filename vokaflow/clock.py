"""Wall-clock helpers and the two timestamp formats the API uses.

Event times (created_at, started_at, ...) are naive UTC ISO-8601 with microseconds, as in
the spec's examples. Forecasts and reset times (estimated_completion, reset_time) are UTC
with milliseconds and a trailing ``Z``, also as in the spec.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone


def now_s() -> float:
    return time.time()


def iso_event(epoch_s: float | None) -> str | None:
    if epoch_s is None:
        return None
    return (
        datetime.fromtimestamp(epoch_s, tz=timezone.utc)
        .replace(tzinfo=None)
        .isoformat(timespec="microseconds")
    )


def iso_forecast(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
