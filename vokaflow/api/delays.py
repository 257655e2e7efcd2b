"""When a submitted task may run: its run_at or delay_seconds checked against the settings'
horizon and past tolerance. Apart from api/submission.py so that it imports no Ray."""

from __future__ import annotations

from datetime import timezone

from vokaflow.api.schemas.tasks import TaskSubmitRequest
from vokaflow.config import Settings
from vokaflow.errors import ValidationFailed


def due_time(
    request: TaskSubmitRequest, settings: Settings, now_s: float, field_prefix: str = ""
) -> float | None:
    """When a delayed task may run (epoch s), or None to run it now: a run_at a little in
    the past (within the tolerance) runs now; further back, or beyond the horizon, is a 400."""
    if request.run_at is not None and request.delay_seconds is not None:
        raise ValidationFailed(
            f"{field_prefix}delay_seconds", "Give run_at or delay_seconds, not both"
        )
    if request.delay_seconds is not None:
        if request.delay_seconds > settings.max_delay_s:
            raise ValidationFailed(
                f"{field_prefix}delay_seconds",
                f"At most {settings.max_delay_s:.12g} seconds ahead (VOKAFLOW_MAX_DELAY_S)",
            )
        return now_s + request.delay_seconds if request.delay_seconds > 0 else None
    if request.run_at is None:
        return None
    moment = request.run_at
    if moment.tzinfo is None:  # as every time the API writes: UTC
        moment = moment.replace(tzinfo=timezone.utc)
    due = moment.timestamp()
    if due > now_s + settings.max_delay_s:
        raise ValidationFailed(
            f"{field_prefix}run_at",
            f"At most {settings.max_delay_s:.12g} seconds ahead (VOKAFLOW_MAX_DELAY_S)",
        )
    if due < now_s - settings.run_at_past_tolerance_s:
        raise ValidationFailed(
            f"{field_prefix}run_at",
            f"{now_s - due:.0f} seconds in the past; at most "
            f"{settings.run_at_past_tolerance_s:.12g} (VOKAFLOW_RUN_AT_PAST_TOLERANCE_S) runs now",
        )
    return due if due > now_s else None
