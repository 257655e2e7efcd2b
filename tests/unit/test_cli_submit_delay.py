"""`vokaflow submit --delay / --run-at` send the delay fields of the submit body."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from vokaflow import cli


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    bodies: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"task_id": "t", "status": "scheduled"})

    def client(settings: Any, args: Any) -> httpx.Client:
        return httpx.Client(base_url="http://vf", transport=httpx.MockTransport(answer))

    monkeypatch.setattr(cli, "_client", client)
    return bodies


def test_delay_becomes_delay_seconds(sent):
    assert cli.main(["submit", "noop", "--delay", "30"]) == 0
    assert sent[0]["delay_seconds"] == 30.0 and "run_at" not in sent[0]


def test_run_at_is_sent_as_given(sent):
    assert cli.main(["submit", "noop", "--run-at", "2030-01-31T09:00:00+01:00"]) == 0
    assert sent[0]["run_at"] == "2030-01-31T09:00:00+01:00" and "delay_seconds" not in sent[0]


def test_both_are_refused_before_anything_is_sent(sent):
    with pytest.raises(SystemExit):
        cli.main(["submit", "noop", "--delay", "30", "--run-at", "2030-01-31T09:00:00Z"])
    assert sent == []
