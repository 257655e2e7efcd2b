"""One real stack per test session: `vokaflow up --detach` on test ports, `vokaflow down` after.

Redis is the one in VOKAFLOW_REDIS_URL when set (CI sets the machine's own), else the
embedded one that `up` starts. Keys live under a fresh prefix, removed afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis

VOKAFLOW = str(Path(sys.executable).parent / "vokaflow")
TEST_PORT = int(os.environ.get("VOKAFLOW_TEST_PORT", "8799"))


@dataclass
class Stack:
    base_url: str
    admin_key: str
    env: dict[str, str]
    home: Path
    redis_url: str
    key_prefix: str

    def client(self, api_key: str | None = None) -> httpx.Client:
        key = self.admin_key if api_key is None else api_key
        headers = {"X-API-Key": key} if key else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=30.0)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [VOKAFLOW, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=300,
        )


def _stack_env(home: Path, prefix: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        VOKAFLOW_HOME=str(home),
        VOKAFLOW_PORT=str(TEST_PORT),
        VOKAFLOW_RAY_PORT=os.environ.get("VOKAFLOW_TEST_RAY_PORT", "6391"),
        VOKAFLOW_RAY_DASHBOARD_PORT=os.environ.get("VOKAFLOW_TEST_DASHBOARD_PORT", "8266"),
        VOKAFLOW_KEY_PREFIX=prefix,
        VOKAFLOW_ENVIRONMENT="test",
        VOKAFLOW_POOL_MAX_WORKERS='{"MEMORY_INTENSIVE": 1}',
        VOKAFLOW_SCHEDULER_STALE_AFTER_S="3",
        VOKAFLOW_MAX_REQUEST_BYTES="1048576",
        VOKAFLOW_RATE_LIMITS='{"ml": {"limit_per_second": 2, "burst": 5}}',
        VOKAFLOW_RETRY_BACKOFF_BASE_S="0.4",
        RAY_AUTH_MODE="disabled",
    )
    env.pop("RAY_ADDRESS", None)
    return env


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("vokaflow-home")
    prefix = f"vftest-{uuid.uuid4().hex[:8]}"
    env = _stack_env(home, prefix)
    up = subprocess.run(
        [VOKAFLOW, "up", "--detach"], env=env, capture_output=True, text=True, timeout=300
    )
    if up.returncode != 0:
        subprocess.run([VOKAFLOW, "down"], env=env, capture_output=True, timeout=120)
        pytest.fail(f"vokaflow up failed:\n{up.stdout}\n{up.stderr}")
    admin_key = up.stdout.strip().splitlines()[-1]
    redis_url = env.get("VOKAFLOW_REDIS_URL") or (home / "redis" / "url").read_text().strip()
    try:
        yield Stack(f"http://127.0.0.1:{TEST_PORT}", admin_key, env, home, redis_url, prefix)
    finally:
        subprocess.run([VOKAFLOW, "down"], env=env, capture_output=True, timeout=180)
        if env.get("VOKAFLOW_REDIS_URL"):
            client = redis.Redis.from_url(env["VOKAFLOW_REDIS_URL"])
            for key in client.scan_iter(match=f"{prefix}:*", count=1000):
                client.delete(key)


@pytest.fixture(scope="session")
def api(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client() as client:
        yield client
