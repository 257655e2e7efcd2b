from __future__ import annotations

import re
from pathlib import Path

import vokaflow_sdk.errors
from vokaflow.errors import (
    ApiError,
    InternalError,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    ValidationFailed,
)

REPOSITORY = Path(__file__).resolve().parents[2]


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


def _spec_statuses() -> dict[str, int]:
    """Each error code the API reference's "Error Codes" section shows, with its status."""
    spec = (REPOSITORY / "docs" / "API_REFERENCE.md").read_text()
    section = spec.split("## 🚨 Error Codes", 1)[1].split("\n## ", 1)[0]
    pairs = re.findall(r'#### (\d{3}) [^\n]*\n```json\n\{\n  "error": "(\w+)"', section)
    return {code: int(status) for status, code in pairs}


def _sdk_statuses() -> dict[str, int]:
    """Each error code in the SDK's table of typed errors, with its status."""
    table = vokaflow_sdk.errors.__doc__ or ""
    return {code: int(status) for status, code in re.findall(r" (\d{3}) ([a-z_]+)", table)}


def _service_error_classes() -> list[type[ApiError]]:
    found, todo = [], [ApiError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return found


def test_the_sdk_raises_a_typed_error_for_each_of_the_spec_s_error_bodies():
    spec, sdk = _spec_statuses(), _sdk_statuses()
    assert len(spec) == 5, "the five error bodies the reference shows"
    for code, status in spec.items():
        assert sdk.get(code, status) == status, code
        assert vokaflow_sdk.errors.error_class(status) is not vokaflow_sdk.errors.VokaFlowError


def test_every_service_error_has_the_status_the_spec_and_the_sdk_give_its_code():
    documented = _sdk_statuses() | _spec_statuses()
    classes = _service_error_classes()
    assert {cls.code for cls in classes} >= _spec_statuses().keys()
    for cls in classes:
        assert documented.get(cls.code) == cls.status_code, cls.__name__
