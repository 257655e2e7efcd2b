"""`vokaflow schedules create` builds the API's body from its options."""

from __future__ import annotations

from vokaflow.cli import _parser, _schedule_body


def body(*argv: str) -> dict:
    return _schedule_body(_parser().parse_args(["schedules", "create", *argv]))


def test_a_cron_schedule_body():
    assert body(
        "sleep",
        "0.1",
        "--cron",
        "30 2 * * *",
        "--timezone",
        "Europe/Madrid",
        "--missed-fires",
        "run_latest",
        "--category",
        "system",
    ) == {
        "task": {
            "name": "sleep",
            "function_name": "sleep",
            "args": [0.1],
            "kwargs": {},
            "priority": "NORMAL",
            "category": "system",
        },
        "cron": "30 2 * * *",
        "timezone": "Europe/Madrid",
        "missed_fires": "run_latest",
    }


def test_an_interval_schedule_body_created_paused():
    made = body("noop", "--every", "60", "--paused", "--end", "2030-01-01T00:00:00Z")
    assert made["interval_seconds"] == 60 and made["paused"] is True
    assert made["end"] == "2030-01-01T00:00:00Z" and "cron" not in made
