"""How a foreground `vokaflow up` ends: on Ctrl-C or SIGTERM, on a failed start and on an
interrupted one, it stops what it started. The launcher's steps are stubs here: no Redis,
no Ray (tests/foreground runs the real thing)."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator

import pytest

from vokaflow import cli
from vokaflow.errors import ConfigError
from vokaflow.runtime import launcher


@pytest.fixture(autouse=True)
def restored_signal_handlers() -> Iterator[None]:
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


@pytest.fixture
def steps(monkeypatch, tmp_path) -> list[str]:
    """Every launcher step `up` and `down` take, recorded in order."""
    done: list[str] = []
    monkeypatch.setenv("VOKAFLOW_HOME", str(tmp_path))
    monkeypatch.setattr(cli.os, "umask", lambda _mask: 0o022)

    def step(name: str, result: object = None) -> Callable[..., object]:
        def run(*_args: object, **_kwargs: object) -> object:
            done.append(name)
            return result

        return run

    monkeypatch.setattr(launcher, "redis_url_for", step("redis", "redis://127.0.0.1:1/0"))
    monkeypatch.setattr(launcher, "ensure_admin_key", step("admin key", "vf_key"))
    monkeypatch.setattr(launcher, "accept_tasks", step("accept"))
    monkeypatch.setattr(launcher, "start_ray", step("ray", "127.0.0.1:6379"))
    monkeypatch.setattr(launcher, "deploy", step("deploy"))
    monkeypatch.setattr(launcher, "wait_healthy", step("healthy"))
    monkeypatch.setattr(launcher, "leave_ray", step("leave ray"))
    monkeypatch.setattr(launcher, "owns_ray_head", lambda _settings: True)
    monkeypatch.setattr(launcher, "stop_everything", step("stop", ["ray", "embedded redis"]))
    return done


def _signal_self(sig: signal.Signals) -> Callable[..., None]:
    def send(*_args: object, **_kwargs: object) -> None:
        os.kill(os.getpid(), sig)

    return send


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_on_a_running_foreground_up_stops_everything_and_exits_0(
    monkeypatch, steps, sig, capsys
):
    monkeypatch.setattr(launcher, "owns_ray_head", _signal_self(sig))

    assert cli.main(["up"]) == 0

    assert steps[-2:] == ["leave ray", "stop"]
    assert "Stopped: ray, embedded redis" in capsys.readouterr().out


def test_a_second_ctrl_c_does_not_cut_the_stop_short(monkeypatch, steps):
    monkeypatch.setattr(launcher, "owns_ray_head", _signal_self(signal.SIGINT))
    stops: list[str] = []

    def stop_twice_interrupted(_settings: object) -> list[str]:
        os.kill(os.getpid(), signal.SIGINT)
        stops.append("finished")
        return ["ray"]

    monkeypatch.setattr(launcher, "stop_everything", stop_twice_interrupted)

    assert cli.main(["up"]) == 0
    assert stops == ["finished"]


def test_up_returns_when_vokaflow_down_stopped_the_service(monkeypatch, steps, capsys):
    answers = iter([True, False])
    monkeypatch.setattr(launcher, "owns_ray_head", lambda _settings: next(answers))

    assert cli.main(["up"]) == 0

    assert "stop" not in steps
    assert "Stopped by `vokaflow down`." in capsys.readouterr().out


def test_up_detached_stops_nothing(steps):
    assert cli.main(["up", "--detach"]) == 0
    assert steps[-1] == "leave ray" and "stop" not in steps


def test_a_failed_start_stops_what_it_had_started_and_says_why(monkeypatch, steps, capsys):
    def refuse(*_args: object) -> None:
        raise ConfigError("VOKAFLOW_VICKY_MODELS: no model 'nope'")

    monkeypatch.setattr(launcher, "deploy", refuse)

    assert cli.main(["up"]) == 2

    assert steps == ["redis", "admin key", "accept", "ray", "stop"]
    assert "VOKAFLOW_VICKY_MODELS" in capsys.readouterr().err


def test_a_start_that_never_becomes_healthy_stops_what_it_had_started(monkeypatch, steps):
    def never(*_args: object) -> None:
        raise TimeoutError("http://localhost:8000/api/health/ did not become healthy")

    monkeypatch.setattr(launcher, "wait_healthy", never)

    assert cli.main(["up"]) == 1
    assert steps[-1] == "stop"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_start_stops_what_it_had_started_and_exits_130(monkeypatch, steps, sig):
    monkeypatch.setattr(launcher, "deploy", _signal_self(sig))

    assert cli.main(["up"]) == 130
    assert steps == ["redis", "admin key", "accept", "ray", "stop"]
