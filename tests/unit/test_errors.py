from __future__ import annotations

from vokaflow.errors import (
    Conflict,
    InternalError,
    NotFound,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)


def test_a_validation_failure_names_the_field():
    body = ValidationFailed("priority", "bad").to_body()
    assert body["error"] == "validation_error"
    assert body["message"] == "Invalid request parameters"
    assert body["details"] == {"field": "priority", "error": "bad"}


def test_the_401_body_has_no_details():
    body = Unauthorized().to_body()
    assert body.keys() == {"error", "message", "timestamp"}
    assert body["message"] == "Invalid or missing authentication token"


def test_a_rate_limit_error_carries_retry_after_in_body_and_header():
    error = RateLimited("vicky", limit=50000, current=50001, reset_at_s=0.0, retry_after_s=45)
    body = error.to_body()
    assert error.status_code == 429
    assert body["message"] == "Rate limit exceeded for category 'vicky'"
    assert body["details"]["retry_after"] == 45 and body["details"]["limit"] == 50000
    assert body["details"]["reset_time"] == "1970-01-01T00:00:00.000Z"
    assert error.headers() == {"Retry-After": "45"}


def test_service_unavailable_names_the_component():
    body = ServiceUnavailable("redis", "down").to_body()
    assert body["details"]["component"] == "redis"
    assert body["details"]["status"] == "degraded"
    assert body["details"]["estimated_recovery"].endswith("Z")


def test_internal_errors_carry_an_id_and_no_details():
    body = InternalError().to_body()
    assert body["error"] == "internal_server_error"
    assert body["error_id"].startswith("error_")
    assert "details" not in body


def test_status_codes_follow_the_spec():
    assert NotFound("x").status_code == 404
    assert Conflict("x").status_code == 409
