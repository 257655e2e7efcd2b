"""A stack of its own for fault injection, on a Redis server these tests start, stop and
restart themselves (AOF on, everysec, as the embedded one).

These run before tests/integration (pytest orders the folders), whose session stack starts
only after this one is down: `vokaflow down` stops every Ray process on the machine.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import running_stack
from vokaflow.testing.stack import LocalStack, RedisServer

CHAOS_SETTINGS = {
    "VOKAFLOW_ENVIRONMENT": "test",
    "VOKAFLOW_SCHEDULER_STALE_AFTER_S": "3",
    "VOKAFLOW_VICKY_MODELS": "[]",
    "VOKAFLOW_RETRY_BACKOFF_BASE_S": "0.2",
    "VOKAFLOW_SHUTDOWN_GRACE_S": "8",
    "VOKAFLOW_RATE_LIMITS": '{"system": {"limit_per_second": 100000, "burst": 100000}}',
    # A batch whose first task is named after a step fails once right after that step
    # (tests/chaos/test_batch_submission.py); interrupted ones are finished after 2 s.
    "VOKAFLOW_FAILPOINTS": json.dumps(
        [f"batch.{step}@{step}" for step in ("after_begin", "after_tasks", "after_commit")]
    ),
    "VOKAFLOW_BATCH_SUBMIT_GRACE_S": "2",
}


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
    yield from running_stack(local)


@pytest.fixture(scope="package")
def chaos_api(chaos_stack: LocalStack) -> Iterator[httpx.Client]:
    with chaos_stack.client() as client:
        yield client
