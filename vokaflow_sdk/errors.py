"""Typed errors, mapped from the API's error bodies.

VokaFlowError                   any error the SDK raises on purpose
├── ValidationError             400 validation_error   .field, .error (from details)
├── AuthenticationError         401 unauthorized
├── TaskNotFound (NotFound)     404 not_found (a task, batch, webhook or route)
├── Conflict                    409 conflict (e.g. cancelling a finished task)
├── PayloadTooLarge             413 payload_too_large
├── RateLimitExceeded           429 rate_limit_exceeded .retry_after .limit .current
├── ServerError                 500 (and other 5xx) .error_id
├── ServiceUnavailable          503 service_unavailable .component
├── VokaFlowConnectionError     the request never got an answer (network, timeout)
├── StreamError                 an ``event: error`` in a server-sent event stream
└── TaskWaitTimeout             also a TimeoutError: wait_for_completion ran out of time
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any


class VokaFlowError(Exception):
    """Root of every SDK error. API errors carry the status and the parsed error body."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.details: dict[str, Any] = dict(details or {})
        self.body = body
        self.headers: dict[str, str] = dict(headers or {})

    def __str__(self) -> str:
        if self.status_code is None:
            return self.message
        return f"{self.status_code} {self.code or 'error'}: {self.message}"


class ValidationError(VokaFlowError):
    """400: the request was refused before anything was stored."""

    @property
    def field(self) -> str | None:
        return _optional_str(self.details.get("field"))

    @property
    def error(self) -> str | None:
        return _optional_str(self.details.get("error"))


class AuthenticationError(VokaFlowError):
    """401: no valid API key or token."""


class TaskNotFound(VokaFlowError):
    """404: no such task (or batch, webhook or route), or one that belongs to another key."""


NotFound = TaskNotFound


class Conflict(VokaFlowError):
    """409: e.g. cancelling a task that has already ended."""


class PayloadTooLarge(VokaFlowError):
    """413: the request body is over the service's limit."""


class RateLimitExceeded(VokaFlowError):
    """429: a category's rate limit (or the failed-authentication limit) was hit, or a task
    submitted with sla_policy="reject" would start past its priority's SLA."""

    @property
    def retry_after(self) -> float | None:
        """Seconds to wait: ``details.retry_after``, else the ``Retry-After`` header."""
        value = _number(self.details.get("retry_after"))
        return value if value is not None else retry_after_header(self.headers)

    @property
    def limit(self) -> int | None:
        return _optional_int(self.details.get("limit"))

    @property
    def current(self) -> int | None:
        return _optional_int(self.details.get("current"))

    @property
    def reset_time(self) -> str | None:
        return _optional_str(self.details.get("reset_time"))


class ServerError(VokaFlowError):
    """500 (or another 5xx than 503): the service failed; quote ``error_id`` when asking."""

    @property
    def error_id(self) -> str | None:
        body = self.body if isinstance(self.body, Mapping) else {}
        return _optional_str(body.get("error_id"))


class ServiceUnavailable(VokaFlowError):
    """503: a component (``redis``, ``scheduler``, ``vicky:<model>``...) is down, or the
    service is shutting down."""

    @property
    def component(self) -> str | None:
        return _optional_str(self.details.get("component"))


class VokaFlowConnectionError(VokaFlowError):
    """The request got no answer: connection refused, DNS failure, timeout."""


class StreamError(VokaFlowError):
    """The service reported an error in the middle of a server-sent event stream."""


class TaskWaitTimeout(VokaFlowError, TimeoutError):
    """``wait_for_completion`` gave up: the task had not ended within the timeout."""

    def __init__(self, message: str, *, task_id: str, last_status: str | None) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.last_status = last_status


_BY_STATUS: dict[int, type[VokaFlowError]] = {
    400: ValidationError,
    401: AuthenticationError,
    404: TaskNotFound,
    409: Conflict,
    413: PayloadTooLarge,
    429: RateLimitExceeded,
    503: ServiceUnavailable,
}


def error_class(status_code: int) -> type[VokaFlowError]:
    if status_code in _BY_STATUS:
        return _BY_STATUS[status_code]
    return ServerError if status_code >= 500 else VokaFlowError


def error_from_response(
    status_code: int, headers: Mapping[str, str], content: bytes
) -> VokaFlowError:
    """The typed error for an HTTP error answer; a body that is not the API's JSON error
    body (a proxy's HTML page, say) becomes the message."""
    body = _json_or_none(content)
    if isinstance(body, Mapping):
        message = str(body.get("message") or body.get("error") or f"HTTP {status_code}")
        code = _optional_str(body.get("error"))
        details = body.get("details") if isinstance(body.get("details"), Mapping) else None
    else:
        message = content.decode("utf-8", "replace").strip()[:500] or f"HTTP {status_code}"
        code, details = None, None
    return error_class(status_code)(
        message,
        status_code=status_code,
        code=code,
        details=details,
        body=body,
        headers=headers,
    )


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """The header ``name`` from any mapping, in any letter case."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def retry_after_header(headers: Mapping[str, str]) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date from now."""
    raw = header_value(headers, "Retry-After")
    if raw is None:
        return None
    seconds = _number(raw.strip())
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content)
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _optional_int(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)
