"""The project's errors, and their one mapping to HTTP bodies.

    VokaFlowError
    ├── ConfigError                 bad VOKAFLOW_* setting, raised at start-up (not HTTP)
    ├── ApiError                    anything with an HTTP status and the spec's error body
    │   ├── ValidationFailed        400 validation_error   details.field names the field
    │   ├── Unauthorized            401 unauthorized
    │   ├── NotFound                404 not_found
    │   ├── Conflict                409 conflict
    │   ├── PayloadTooLarge         413 payload_too_large
    │   ├── RateLimited             429 rate_limit_exceeded details.retry_after, Retry-After
    │   │   ├── SlaUnreachable      429 for sla_policy "reject" past the priority's SLA
    │   │   └── TooManyAuthFailures 429 for a client whose credentials keep failing
    │   ├── ServiceUnavailable      503 service_unavailable details.component
    │   └── InternalError           500 internal_server_error with an error_id
    └── FunctionNotRegistered       an executor met a function name it does not know

Ray errors are translated to these at the scheduler's boundary. Redis errors become the
store's own StoreUnavailable (vokaflow.store.errors), which the API alone maps to
ServiceUnavailable (vokaflow.api.errors).
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from vokaflow.clock import iso_event, iso_forecast, now_s


class VokaFlowError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(VokaFlowError):
    pass


class FunctionNotRegistered(VokaFlowError):
    pass


class ApiError(VokaFlowError):
    status_code = 500
    code = "internal_server_error"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def headers(self) -> dict[str, str]:
        return {}

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        body["timestamp"] = iso_event(now_s())
        return body


class ValidationFailed(ApiError):
    status_code = 400
    code = "validation_error"

    def __init__(self, field: str, error: str, message: str = "Invalid request parameters"):
        super().__init__(message, {"field": field, "error": error})


class Unauthorized(ApiError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "Invalid or missing authentication token") -> None:
        super().__init__(message)

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="vokaflow"'}


class NotFound(ApiError):
    status_code = 404
    code = "not_found"


class Conflict(ApiError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status_code = 413
    code = "payload_too_large"


class RateLimited(ApiError):
    status_code = 429
    code = "rate_limit_exceeded"

    def __init__(
        self,
        category: str,
        limit: int,
        current: int,
        reset_at_s: float,
        retry_after_s: int,
        message: str | None = None,
    ):
        super().__init__(
            message or f"Rate limit exceeded for category '{category}'",
            {
                "limit": limit,
                "current": current,
                "reset_time": iso_forecast(reset_at_s),
                "retry_after": retry_after_s,
            },
        )
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class SlaUnreachable(RateLimited):
    """A submit with sla_policy "reject" whose task would start past its priority's SLA."""

    def __init__(
        self, priority: str, sla_s: float, start_in_s: float, ahead: int, ready_at_s: float
    ) -> None:
        retry_after_s = max(1, math.ceil(start_in_s - sla_s))
        ApiError.__init__(
            self,
            f"This {priority} task would start about {start_in_s:.1f} s after it is ready, "
            f"past its SLA of {sla_s:g} s (sla_policy reject); nothing was written",
            {
                "retry_after": retry_after_s,
                "estimated_start": iso_forecast(ready_at_s + start_in_s),
                "sla_seconds": sla_s,
                "queue_position": ahead,
            },
        )
        self.retry_after_s = retry_after_s


class TooManyAuthFailures(RateLimited):
    def __init__(self, limit: int, current: int, reset_at_s: float, retry_after_s: int) -> None:
        super().__init__(
            "",
            limit,
            current,
            reset_at_s,
            retry_after_s,
            message="Too many failed authentication attempts from this client",
        )


class ServiceUnavailable(ApiError):
    status_code = 503
    code = "service_unavailable"

    def __init__(self, component: str, message: str, recovery_in_s: float = 30.0) -> None:
        super().__init__(
            message,
            {
                "component": component,
                "status": "degraded",
                "estimated_recovery": iso_forecast(now_s() + recovery_in_s),
            },
        )

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


class InternalError(ApiError):
    status_code = 500
    code = "internal_server_error"

    def __init__(self) -> None:
        super().__init__("An unexpected error occurred")
        self.error_id = f"error_{uuid.uuid4()}"

    def to_body(self) -> dict[str, Any]:
        return {
            "error": self.code,
            "message": self.message,
            "error_id": self.error_id,
            "timestamp": iso_event(now_s()),
        }
