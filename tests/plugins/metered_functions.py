"""Cheap functions in a category of their own, `metered`, which the test stack limits to
2 tasks a second (burst 5): what the rate-limit and category-metric tests submit, since a
function's category is fixed where it is registered."""

from __future__ import annotations

from vokaflow import function


@function(category="metered", description="Does nothing", estimated_duration="<1 second")
def metered_noop() -> None:
    return None


@function(category="metered", description="Returns its message", estimated_duration="<1 second")
def metered_echo(message: str) -> str:
    return message


@function(category="metered", description="Always fails", estimated_duration="<1 second")
def metered_fail(message: str) -> None:
    raise RuntimeError(message)
