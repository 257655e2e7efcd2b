"""`vokaflow down` stops the Ray head that `up` started, all of it, and nothing of another
Ray cluster on the machine.

The other cluster is a plain `ray start --head` on ports and a temp folder of its own, as
another user of Ray on the machine would start it; the stack is the foreground package's,
started with `up --detach`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.foreground.test_ctrl_c import _foreground_stack, _listening_on
from vokaflow.runtime import own_head
from vokaflow.runtime.loopback import SINGLE_MACHINE_ENV
from vokaflow.testing.stack import LocalStack, free_port

RAY = str(Path(sys.executable).parent / "ray")


class OtherHead:
    """A Ray head on loopback, on free ports and in a temp folder of its own."""

    def __init__(self) -> None:
        # short: Ray's sockets live in it
        self.temp_dir = Path(tempfile.mkdtemp(prefix="vf-other-", dir="/tmp"))
        self.port = free_port()
        self.env = {**os.environ, **SINGLE_MACHINE_ENV, "RAY_AUTH_MODE": "disabled"}
        self.env.pop("RAY_ADDRESS", None)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        ports = {
            "port": self.port,
            "ray-client-server-port": free_port(),
            "dashboard-agent-listen-port": free_port(),
            # random, not Ray's default range, where the other stacks' picked ports lie
            "min-worker-port": 0,
            "max-worker-port": 0,
        }
        command = [RAY, "start", "--head", "--disable-usage-stats", "--num-cpus=1"]
        command += ["--include-dashboard=false", "--object-store-memory=100000000"]
        command += [f"--temp-dir={self.temp_dir}"]
        command += [f"--{name}={value}" for name, value in ports.items()]
        subprocess.run(command, env=self.env, check=True, capture_output=True, timeout=120)

    def own_processes(self) -> list[psutil.Process]:
        """Its Ray processes, each of which names its temp folder."""
        return [
            process
            for process in psutil.process_iter(["cmdline"])
            if any(str(self.temp_dir) in part for part in process.info["cmdline"] or [])
        ]

    def processes(self) -> list[psutil.Process]:
        """Its Ray processes and what they started (workers)."""
        found = {process.pid: process for process in self.own_processes()}
        for process in list(found.values()):
            with contextlib.suppress(psutil.NoSuchProcess):
                found.update((child.pid, child) for child in process.children(recursive=True))
        return list(found.values())

    def answers(self) -> bool:
        status = subprocess.run(
            [RAY, "status", f"--address={self.address}"],
            env=self.env,
            capture_output=True,
            timeout=60,
        )
        return status.returncode == 0

    def stop(self) -> None:
        """By its own processes only, never `ray stop`."""
        processes = self.processes()
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.terminate()
        _, alive = psutil.wait_procs(processes, timeout=10)
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def other_head() -> Iterator[OtherHead]:
    head = OtherHead()
    head.start()
    try:
        yield head
    finally:
        head.stop()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    local = _foreground_stack(tmp_path / "home")
    try:
        yield local.start()
    finally:
        local.stop()


def test_down_stops_its_own_head_and_leaves_another_ray_cluster_running(other_head, stack):
    theirs = other_head.own_processes()  # its workers may come and go
    ours = own_head.head_processes(stack.home)
    names = {process.name() for process in ours}
    assert {"gcs_server", "raylet", "haproxy"} <= names, names
    assert {"gcs_server", "raylet"} <= {process.name() for process in theirs}
    assert not {p.pid for p in ours} & {p.pid for p in theirs}
    haproxy_files = own_head.haproxy_node_dirs(stack.home)
    assert haproxy_files and all(folder.is_dir() for folder in haproxy_files)

    down = stack.cli("down")

    assert "ray (serve, scheduler)" in down.stdout, down.stdout
    assert [process for process in theirs if not _alive(process)] == []
    assert other_head.answers(), "the other cluster no longer answers"
    assert [process for process in ours if _alive(process)] == []
    assert own_head.head_processes(stack.home) == []
    assert _listening_on(stack.ray_port) == [] and _listening_on(stack.port) == []
    assert [folder for folder in haproxy_files if folder.exists()] == []
