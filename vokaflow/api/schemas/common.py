"""What every wire model shares: the request base that refuses unknown fields, the
validators for numbers and enum names, and the error bodies every route may answer."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


def not_a_bool(value: Any) -> Any:
    """JSON true is not the number 1, whatever pydantic's lax mode thinks."""
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    return value


def upper_enum_name(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


class StrictBody(BaseModel):
    """A request body: a field it does not know is refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    error: str
    message: str
    details: dict[str, Any] | None = None
    timestamp: str


class InternalErrorBody(BaseModel):
    error: Literal["internal_server_error"]
    message: str
    error_id: str
    timestamp: str
