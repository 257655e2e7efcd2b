"""The whole service behind Redis Sentinel (a primary, two replicas and one Sentinel the test
starts, vokaflow.testing.stack.LocalSentinelRedis): the primary is SIGKILLed while delayed
tasks wait and a schedule fires, and the service goes on on the promoted replica: delayed
tasks each run once and none early, each fire time makes one task, and new submits run.

Tasks accepted in the last milliseconds before a crash can be lost with the primary
(replication is asynchronous; docs/decisions.md, "Redis failover"): the tasks here were
accepted a second or more before the kill, so the replicas hold them.

Its own package's stack, run beside the session's stack (see tests/conftest.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import pytest
import redis

from tests.conftest import running_stack
from vokaflow.domain.task import TaskField, TaskSpec
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect_sync
from vokaflow.testing.stack import LocalSentinelRedis, LocalStack
from vokaflow.testing.tally import task_ids_named, wait_all_terminal

DELAYED = 40
DOWN_AFTER_MS = 3000
READ_TRIES_S = 60
T = TypeVar("T")
INTERVAL_S = 5


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSentinelRedis]:
    # A whole stack loads the two cores: a primary slow to answer Sentinel's PING for 1 s
    # would be called down, and failed over again, in the middle of the test.
    topology = LocalSentinelRedis(
        tmp_path_factory.mktemp("redis-sentinel"), down_after_ms=DOWN_AFTER_MS
    )
    topology.start()
    try:
        yield topology
    finally:
        topology.stop()


@pytest.fixture(scope="module")
def sentinel_stack(
    tmp_path_factory: pytest.TempPathFactory, sentinel: LocalSentinelRedis
) -> Iterator[LocalStack]:
    local = LocalStack(
        home=tmp_path_factory.mktemp("sentinel-home"),
        port=int(os.environ.get("VOKAFLOW_SENTINEL_PORT", "8792")),
        ray_port=int(os.environ.get("VOKAFLOW_SENTINEL_RAY_PORT", "6398")),
        dashboard_port=int(os.environ.get("VOKAFLOW_SENTINEL_DASHBOARD_PORT", "8273")),
        settings={
            "VOKAFLOW_ENVIRONMENT": "test",
            "VOKAFLOW_REDIS_URL": sentinel.url,
            "VOKAFLOW_VICKY_MODELS": "[]",
            "VOKAFLOW_SHUTDOWN_GRACE_S": "2",
        },
    )
    yield from running_stack(local)


def _call(api: httpx.Client, method: str, path: str, body: Any = None) -> Any:
    """The reply's body, waiting out the 503s of the seconds without a primary."""
    deadline = time.monotonic() + 60
    while True:
        reply = api.request(method, path, json=body)
        if reply.status_code != 503 or time.monotonic() > deadline:
            assert reply.is_success, reply.text
            return reply.json()
        time.sleep(0.2)


def _read(read: Callable[[], T]) -> T:
    """The test's own reads through Sentinel, which names no primary while it is down (as
    the service answers 503 then): tried again for READ_TRIES_S."""
    deadline = time.monotonic() + READ_TRIES_S
    while True:
        try:
            return read()
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _released_early(stack: LocalStack, task_ids: list[str]) -> list[str]:
    """The tasks whose release (released_at, epoch ms) came before their run_at."""
    keys = Keys(stack.key_prefix, 16)
    client = connect_sync(stack.redis_url, decode_responses=True)
    try:
        pipe = client.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.hgetall(keys.task(task_id))
        records = pipe.execute()
    finally:
        client.close()
    return [
        task_id
        for task_id, record in zip(task_ids, records, strict=True)
        if int(record[TaskField.RELEASED_AT]) < (TaskSpec.from_record(record).run_at or 0) * 1000
    ]


def test_a_killed_primary_loses_no_delayed_task_and_no_fire(sentinel_stack, sentinel):
    with sentinel_stack.client() as api:
        schedule = _call(
            api,
            "POST",
            "/api/schedules",
            {"task": {"name": "sentinel-fire", "function_name": "noop"}, "interval_seconds": 5},
        )
        due = [
            {"name": "later", "function_name": "noop", "delay_seconds": 3 + i * 0.25}
            for i in range(DELAYED)
        ]
        accepted = _call(api, "POST", "/api/high-scale-tasks/batch", {"tasks": due})
        delayed_ids = [t["task_id"] for t in accepted["successful_tasks"]]
        assert len(delayed_ids) == DELAYED
        time.sleep(1.5)  # on the replicas (they lag by milliseconds)
        killed_at = time.time()
        sentinel.kill_primary()  # returns once Sentinel names the promoted replica
        fresh = _call(
            api, "POST", "/api/high-scale-tasks/submit", {"name": "after", "function_name": "noop"}
        )
        tally = _read(
            lambda: wait_all_terminal(
                sentinel_stack, [*delayed_ids, fresh["task_id"]], timeout_s=120
            )
        )
        assert tally.missing == [] and tally.by_status == {"completed": DELAYED + 1}, tally
        assert _read(lambda: _released_early(sentinel_stack, delayed_ids)) == []
        deadline = time.monotonic() + 60
        url = f"/api/schedules/{schedule['id']}"
        while time.monotonic() < deadline:
            runs = _call(api, "GET", url)["runs"]
            if sum(r["fire_time"] > _iso(killed_at) for r in runs) >= 2:
                break
            time.sleep(0.5)
        _call(api, "POST", f"{url}/pause", {})
        time.sleep(1.5)  # a fire claimed just before the pause is submitted
        runs = _call(api, "GET", url)["runs"]
    fires = [r["fire_time"] for r in runs]
    assert sum(f > _iso(killed_at) for f in fires) >= 2, runs
    assert len(set(fires)) == len(fires), f"a fire ran twice: {fires}"
    assert sorted(_read(lambda: task_ids_named(sentinel_stack, "sentinel-fire"))) == sorted(
        r["task_id"] for r in runs
    )


def _iso(epoch_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s))
