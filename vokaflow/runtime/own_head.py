"""The Ray head that `vokaflow up` starts, kept apart from any other Ray on the machine, so
that `vokaflow down` stops its processes and nothing else (`ray stop` would stop every Ray
process of the machine).

- Its folder is this user's runtime folder's subfolder named after VOKAFLOW_HOME, with
  Ray's temp folder (sessions, sockets, logs) in ``ray`` and the script that starts
  Serve's HAProxy. Short, as a Unix socket's path has at most 107 bytes and Ray's sockets
  live in there. (HAProxy's own files are in a folder per node: vokaflow.runtime.loopback.)
- Every process of the head carries HEAD_MARK, naming that folder, in its environment:
  `ray start` gets it, and Ray's processes, its workers, Serve's HAProxy and the
  scheduler's job pass their environment on. A process whose parent died (HAProxy, when
  Serve's proxy is gone) keeps it.

Imports stay light here: the unit tier runs it without Ray.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from vokaflow.runtime.loopback import RUNTIME_DIR, haproxy_node_dir, private_runtime_dir

HEAD_MARK = "VOKAFLOW_OWN_RAY_HEAD"
# Short: the raylet, the GCS, Ray's agents and Serve's controller and proxy do not exit on
# SIGTERM within 8 s (measured), so a longer grace only made every `down` 10 s slower;
# `ray stop --force`, used before, sent SIGKILL at once. Running tasks were drained first.
STOP_GRACE_S = 1.0


def head_dir(home: Path) -> Path:
    """The head's folder: one per VOKAFLOW_HOME, whatever the path it was given by."""
    key = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:8]
    return RUNTIME_DIR / key


def temp_dir(home: Path) -> Path:
    """Ray's temp folder for the head (`ray start --temp-dir`)."""
    return head_dir(home) / "ray"


def make_head_dir(home: Path) -> Path:
    """The head's folder, this user's only (Ray's sockets, the HAProxy launcher)."""
    private_runtime_dir()
    folder = head_dir(home)
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)
    return folder


def head_env(home: Path) -> dict[str, str]:
    """What `ray start` adds to its environment, for every process of the head to carry."""
    return {HEAD_MARK: str(head_dir(home))}


def head_processes(home: Path) -> list[psutil.Process]:
    """The head's processes still running: those that carry its mark, and everything they
    started (a task may start a process with an environment of its own)."""
    mark = str(head_dir(home))
    found: dict[int, psutil.Process] = {}
    for process in psutil.process_iter():
        try:
            if process.environ().get(HEAD_MARK) == mark:
                found[process.pid] = process
                found.update((child.pid, child) for child in process.children(recursive=True))
        except psutil.Error:  # gone meanwhile, or another user's
            continue
    found.pop(os.getpid(), None)
    return [process for process in found.values() if _running(process)]


def haproxy_node_dirs(home: Path) -> list[Path]:
    """The folders of the head's HAProxy, read from its command line while it runs."""
    folders = set()
    for process in head_processes(home):
        with contextlib.suppress(psutil.Error):
            folder = haproxy_node_dir(process.cmdline())
            if folder is not None:
                folders.add(folder)
    return sorted(folders)


def stop_head(home: Path, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM to the head's processes, then SIGKILL to those still running after
    ``grace_s``, and to any started meanwhile."""
    processes = head_processes(home)
    _signal(processes, psutil.Process.terminate)
    left = _wait_stopped(processes, grace_s)
    left += [process for process in head_processes(home) if process not in left]
    _signal(left, psutil.Process.kill)
    stuck = _wait_stopped(left, 5.0)
    if stuck:
        raise RuntimeError(f"processes of the Ray head did not stop: {[p.pid for p in stuck]}")


def _signal(processes: list[psutil.Process], send: Callable[[psutil.Process], None]) -> None:
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            send(process)


def _wait_stopped(processes: list[psutil.Process], timeout_s: float) -> list[psutil.Process]:
    """Those of ``processes`` still running after ``timeout_s``; a zombie has stopped
    (a container's init may never reap what `ray start` left it)."""
    deadline = time.monotonic() + timeout_s
    while (running := [p for p in processes if _running(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return running


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
