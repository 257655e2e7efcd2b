"""What the API tier's submit tests share: a submit of one function, refused at the door."""

from __future__ import annotations

from typing import Any

SUBMIT = "/api/high-scale-tasks/submit"


def refused_field(api: Any, function_name: str, **kwargs: Any) -> str:
    """The field that the 400 validation error names for this submit."""
    reply = api.post(SUBMIT, json={"name": "bad", "function_name": function_name, "kwargs": kwargs})
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == "validation_error"
    field: str = reply.json()["details"]["field"]
    return field
