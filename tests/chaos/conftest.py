"""A stack of its own for fault injection, on a Redis server these tests start, stop and
restart themselves (AOF on, everysec, as the embedded one).

These run before tests/integration (pytest orders the folders), whose session stack starts
only after this one is down: `vokaflow down` stops every Ray process on the machine.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from vokaflow.runtime.stack import LocalStack
from vokaflow.store.embedded import redis_server_binary

CHAOS_SETTINGS = {
    "VOKAFLOW_ENVIRONMENT": "test",
    "VOKAFLOW_SCHEDULER_STALE_AFTER_S": "3",
    "VOKAFLOW_RETRY_BACKOFF_BASE_S": "0.2",
    "VOKAFLOW_SHUTDOWN_GRACE_S": "8",
    "VOKAFLOW_RATE_LIMITS": '{"system": {"limit_per_second": 100000, "burst": 100000}}',
}


class RedisServer:
    """A real redis-server with AOF in a folder of its own, on a fixed port across restarts."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        flags = {
            "port": str(self.port),
            "bind": "127.0.0.1",
            "dir": str(self.folder),
            "appendonly": "yes",
            "appendfsync": "everysec",
            "save": "",
            "daemonize": "yes",
            "logfile": str(self.folder / "redis.log"),
        }
        args = [item for name, value in flags.items() for item in (f"--{name}", value)]
        subprocess.run([redis_server_binary(), *args], check=True)
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    return
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def stop(self) -> None:
        """A clean shutdown: the AOF is flushed, as on a planned restart."""
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis.from_url(self.url).shutdown(nosave=False)


@pytest.fixture(scope="package")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("chaos-redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def chaos_stack(
    tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer
) -> Iterator[LocalStack]:
    local = LocalStack(
        home=tmp_path_factory.mktemp("chaos-home"),
        port=int(os.environ.get("VOKAFLOW_CHAOS_PORT", "8797")),
        ray_port=int(os.environ.get("VOKAFLOW_CHAOS_RAY_PORT", "6393")),
        dashboard_port=int(os.environ.get("VOKAFLOW_CHAOS_DASHBOARD_PORT", "8268")),
        settings={**CHAOS_SETTINGS, "VOKAFLOW_REDIS_URL": redis_server.url},
    )
    try:
        local.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="package")
def chaos_api(chaos_stack: LocalStack) -> Iterator[httpx.Client]:
    with chaos_stack.client() as client:
        yield client
