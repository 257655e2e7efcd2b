"""`up` starts Serve through launcher.start_serve, which waits out a proxy that Serve
replaced while it started (on loaded cores a proxy can miss its readiness check; Serve
kills it and starts another, while serve.start waits on the one it killed)."""

from __future__ import annotations

import pytest
from ray.exceptions import ActorDiedError

from vokaflow.config import Settings
from vokaflow.runtime import launcher


class FlakyServe:
    def __init__(self, deaths: int) -> None:
        self.deaths = deaths
        self.calls: list[dict[str, object]] = []

    def start(self, http_options: dict[str, object]) -> None:
        self.calls.append(http_options)
        if len(self.calls) <= self.deaths:
            raise ActorDiedError()


def test_a_proxy_replaced_during_start_is_waited_out():
    serve = FlakyServe(deaths=1)
    launcher.start_serve(serve, Settings(port=8123))
    assert serve.calls == [{"host": "127.0.0.1", "port": 8123}] * 2


def test_a_proxy_that_keeps_dying_fails_up_after_a_few_tries():
    serve = FlakyServe(deaths=launcher.SERVE_START_TRIES)
    with pytest.raises(ActorDiedError):
        launcher.start_serve(serve, Settings())
    assert len(serve.calls) == launcher.SERVE_START_TRIES
