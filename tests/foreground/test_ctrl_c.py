"""Ctrl-C on a foreground `vokaflow up` stops everything it started, with no traceback.

A stack of its own, on an embedded Redis and ports of its own, run with the other stacks of
their own beside the session's stack (tests/conftest.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import psutil

from vokaflow.testing.stack import VOKAFLOW, LocalStack

STOP_WITHIN_S = 90  # the drain's 2 s grace, the head's stop and the embedded Redis's


def _foreground_stack(home: Path) -> LocalStack:
    return LocalStack(
        home=home,
        port=int(os.environ.get("VOKAFLOW_FOREGROUND_PORT", "8793")),
        ray_port=int(os.environ.get("VOKAFLOW_FOREGROUND_RAY_PORT", "6397")),
        dashboard_port=int(os.environ.get("VOKAFLOW_FOREGROUND_DASHBOARD_PORT", "8272")),
        settings={
            "VOKAFLOW_ENVIRONMENT": "test",
            "VOKAFLOW_VICKY_MODELS": "[]",
            "VOKAFLOW_SHUTDOWN_GRACE_S": "2",
        },
    )


def _env(stack: LocalStack) -> dict[str, str]:
    env = stack.env
    env.pop("VOKAFLOW_REDIS_URL", None)  # the embedded Redis, which `up` starts and stops
    return env


def _start_up(stack: LocalStack, log: Path) -> subprocess.Popen[bytes]:
    """`vokaflow up` in the foreground, as the leader of its own process group: a terminal's
    Ctrl-C reaches the whole foreground group."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [VOKAFLOW, "up"],
            env=_env(stack),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _clean_up(process: subprocess.Popen[bytes], stack: LocalStack) -> None:
    """Whatever a failing test left running; nothing to do when it passed."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    subprocess.run([VOKAFLOW, "down"], env=_env(stack), capture_output=True, timeout=300)


def _wait_until_up(process: subprocess.Popen[bytes], log: Path, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while "Press Ctrl-C to stop." not in log.read_text():
        assert process.poll() is None, f"`up` exited {process.returncode}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"`up` did not come up:\n{log.read_text()}"
        time.sleep(0.5)


def _answers(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/api/health/", timeout=2.0)
    except httpx.HTTPError:
        return False
    return True


def _listening_on(port: int) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if any(
                c.laddr.port == port and c.status == "LISTEN" for c in process.net_connections()
            ):
                found.append(process)
        except psutil.Error:
            continue
    return found


def _started_processes(stack: LocalStack) -> dict[str, list[psutil.Process]]:
    """What `up` started, found by its ports and its Redis's pid file."""
    head = f"127.0.0.1:{stack.ray_port}"
    ray = [
        process
        for process in psutil.process_iter(["cmdline"])
        if any(
            head in part or part.endswith(f"={stack.ray_port}")
            for part in process.info["cmdline"] or []
        )
    ]
    return {
        "ray": ray,
        "redis-server": _redis_servers_in(stack.home),
        "api port (haproxy)": _listening_on(stack.port),
    }


def _redis_servers_in(home: Path) -> list[psutil.Process]:
    """The embedded redis-server works in a folder of VOKAFLOW_HOME."""
    found = []
    for process in psutil.process_iter(["name"]):
        try:
            if "redis-server" in (process.info["name"] or "") and Path(
                process.cwd()
            ).is_relative_to(home):
                found.append(process)
        except psutil.Error:
            continue
    return found


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_ctrl_c_on_a_foreground_up_stops_everything_it_started(tmp_path):
    stack = _foreground_stack(tmp_path / "home")
    log = tmp_path / "up.log"
    process = _start_up(stack, log)
    try:
        _wait_until_up(process, log)
        assert _answers(stack.port)
        started = _started_processes(stack)
        assert all(started.values()), started

        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=STOP_WITHIN_S)

        output = log.read_text()
        assert code == 0, output
        assert "Traceback" not in output, output
        assert "Stopped: " in output, output
        assert not _answers(stack.port), "the API still answers"
        deadline = time.monotonic() + 10
        while any(left := {n: [p for p in ps if _alive(p)] for n, ps in started.items()}.values()):
            assert time.monotonic() < deadline, f"left running: {left}\n{output}"
            time.sleep(0.2)
    finally:
        _clean_up(process, stack)


def test_a_failed_up_stops_what_it_had_started(tmp_path):
    """An unknown model fails the deployment, after Redis, Ray and the scheduler started."""
    stack = _foreground_stack(tmp_path / "home")
    stack.settings["VOKAFLOW_VICKY_MODELS"] = '["no-such-model"]'
    log = tmp_path / "up.log"
    process = _start_up(stack, log)
    try:
        code = process.wait(timeout=240)

        output = log.read_text()
        assert code == 2 and "VOKAFLOW_VICKY_MODELS" in output, output
        assert "Traceback" not in output, output
        assert "ray (serve, scheduler)" in output and "embedded redis" in output, output
        assert not _listening_on(stack.ray_port), "the Ray head still runs"
        assert not _answers(stack.port)
        assert not [p for p in _redis_servers_in(stack.home) if _alive(p)]
    finally:
        _clean_up(process, stack)
