"""After Redis restarts, the service's client reconnects: the first command on a pooled
connection that died with the old server succeeds, rather than turning into a 503."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from vokaflow.store.redis_client import connect
from vokaflow.testing.stack import free_port


class _RedisServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def redis_server() -> Iterator[_RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is needed on PATH for this test")
    server = _RedisServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_the_first_command_after_a_redis_restart_succeeds_on_a_pooled_connection(redis_server):
    async def scenario() -> list[str | None]:
        client = connect(f"redis://127.0.0.1:{redis_server.port}/0")
        await asyncio.gather(*(client.set(f"k{i}", "before") for i in range(8)))  # fill the pool
        redis_server.stop()
        redis_server.start()
        answers = await asyncio.gather(*(client.get(f"k{i}") for i in range(8)))
        await client.aclose()
        return list(answers)

    assert asyncio.run(scenario()) == [None] * 8  # answered by the new, empty server
