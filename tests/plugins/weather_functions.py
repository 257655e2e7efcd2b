"""A user's own functions, loaded by the test stack through VOKAFLOW_PLUGINS."""

from __future__ import annotations

import asyncio

from vokaflow import function, report_progress


@function(
    category="weather",
    description="Converts Celsius to Fahrenheit",
    estimated_duration="<1 second",
)
def to_fahrenheit(celsius: float) -> float:
    return celsius * 9 / 5 + 32


@function(
    category="weather",
    description="Averages readings, reporting progress after each one",
    estimated_duration="<1 second",
)
async def average_readings(readings: list[float]) -> dict[str, float]:
    total = 0.0
    for done, value in enumerate(readings, start=1):
        total += value
        report_progress(done / len(readings), readings_done=done)
        await asyncio.sleep(0.05)
    return {"average": total / len(readings), "count": len(readings)}
