"""Turning pydantic's validation errors into the spec's 400 body."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vokaflow.domain import Priority, WorkerType
from vokaflow.errors import ValidationFailed

PRIORITY_ERROR = "Invalid priority level. Must be one of: " + ", ".join(p.value for p in Priority)

WORKER_TYPE_ERROR = "Invalid worker type. Must be one of: " + ", ".join(w.value for w in WorkerType)

_ENUM_MESSAGES = {
    "priority": PRIORITY_ERROR,
    "batch_priority": PRIORITY_ERROR,
    "worker_type": WORKER_TYPE_ERROR,
}


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    path = ""
    for part in parts:
        path += f"[{part}]" if part.isdigit() else (f".{part}" if path else part)
    return path or "body"


def validation_failure(errors: Sequence[Any], prefix: str = "") -> ValidationFailed:
    """The spec's 400 for the first of pydantic's errors; ``prefix`` locates a nested body."""
    first = errors[0]
    loc = tuple(first.get("loc", ()))
    field = prefix + _field_path(loc) if loc else (prefix.rstrip(".") or "body")
    leaf = str(loc[-1]) if loc else ""
    if first.get("type") == "json_invalid":
        return ValidationFailed("body", f"Malformed JSON: {first.get('msg')}")
    if first.get("type") == "enum" and leaf in _ENUM_MESSAGES:
        return ValidationFailed(field, _ENUM_MESSAGES[leaf])
    return ValidationFailed(field, str(first.get("msg", "invalid value")))
