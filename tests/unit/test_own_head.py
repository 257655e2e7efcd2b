"""Which processes `vokaflow down` takes for its own head's, and how it stops them
(vokaflow.runtime.own_head), on plain processes standing in for Ray's."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from vokaflow.runtime import own_head

# Ray's longest socket name under its temp folder, with a 7-digit pid in the session's name
LONGEST_SOCKET = "session_2026-12-06_05-35-16_123456_1234567/sockets/plasma_store"
SOCKET_PATH_LIMIT = 107

# a process that starts a child with an empty environment (as a task's own subprocess may),
# then waits; a stubborn one ignores SIGTERM
PARENT = """
import signal, subprocess, sys, time
if sys.argv[1] == "stubborn":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], env={})
time.sleep(600)
"""


def _start(home: Path | None, behaviour: str = "polite") -> psutil.Process:
    env = {key: value for key, value in os.environ.items() if key != own_head.HEAD_MARK}
    if home is not None:
        env.update(own_head.head_env(home))
    process = subprocess.Popen([sys.executable, "-c", PARENT, behaviour], env=env)
    parent = psutil.Process(process.pid)
    deadline = time.monotonic() + 10
    while not parent.children():
        assert time.monotonic() < deadline, "the child did not start"
        time.sleep(0.05)
    return parent


def _tree(process: psutil.Process) -> list[psutil.Process]:
    return [process, *process.children(recursive=True)]


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def started():
    """The test's stand-ins, killed (whatever a failing test left) and reaped at the end."""
    processes: list[psutil.Process] = []
    yield processes
    for process in processes:
        for member in reversed(_tree(process)) if _running(process) else []:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.kill()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(process.pid, 0)


def test_each_home_has_a_folder_of_its_own_short_enough_for_rays_sockets(tmp_path):
    first, second = own_head.head_dir(tmp_path / "a"), own_head.head_dir(tmp_path / "b")
    assert first != second and first.parent == second.parent
    assert own_head.temp_dir(tmp_path / "a").is_relative_to(first)
    socket_path = own_head.temp_dir(tmp_path / "a") / LONGEST_SOCKET
    assert len(str(socket_path).encode()) <= SOCKET_PATH_LIMIT, socket_path


def test_the_same_home_by_another_path_is_the_same_head(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert own_head.head_dir(Path("home")) == own_head.head_dir(tmp_path / "home")


def test_the_heads_processes_are_those_with_its_mark_and_what_they_started(tmp_path, started):
    home, other_home = tmp_path / "home", tmp_path / "other"
    ours = _start(home)
    theirs, unmarked = _start(other_home), _start(None)
    started += [ours, theirs, unmarked]

    found = {process.pid for process in own_head.head_processes(home)}

    assert found == {process.pid for process in _tree(ours)}


def test_stopping_the_head_ends_its_processes_and_nothing_else(tmp_path, started):
    home = tmp_path / "home"
    polite, stubborn = _start(home), _start(home, "stubborn")
    theirs, unmarked = _start(tmp_path / "other"), _start(None)
    started += [polite, stubborn, theirs, unmarked]
    ours = _tree(polite) + _tree(stubborn)
    others = _tree(theirs) + _tree(unmarked)

    began = time.monotonic()
    own_head.stop_head(home, grace_s=1.0)

    assert not [process for process in ours if _running(process)]
    assert all(_running(process) for process in others)
    assert time.monotonic() - began < 5, "the stubborn one was not killed after the grace"
    assert own_head.head_processes(home) == []
