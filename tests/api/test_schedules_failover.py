"""A schedule created and read through the API while its Redis fails over: the app and a
schedule firer reach a primary with two replicas through the Sentinel URL; Sentinel fails
the primary over while the firer fires and a client reads the schedule. Reads answer 200 or
503, never an error; afterwards the schedule shows each fire time once, each with its
task. The firer's clock is fake (moving only when a tick got through, see
tests/redis/test_failover.py), so the outage skips no fire."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio.from_thread
import pytest

from tests.api.conftest import InProcessService
from tests.scheduler_fakes import FakeClock
from vokaflow.config import Settings
from vokaflow.scheduler.schedule_firer import ScheduleFirer, submit_through
from vokaflow.store.errors import StoreUnavailable
from vokaflow.store.schedules import ScheduleStore
from vokaflow.testing.stack import LocalSentinelRedis

SECONDS = 30
FAIL_OVER_AT = 8


@pytest.fixture
def failing_over(tmp_path: Path) -> Iterator[tuple[LocalSentinelRedis, InProcessService]]:
    topology = LocalSentinelRedis(tmp_path / "redis")
    topology.start()
    try:
        with (
            pytest.MonkeyPatch.context() as monkeypatch,
            anyio.from_thread.start_blocking_portal() as portal,
        ):
            (tmp_path / "home").mkdir()
            service = InProcessService(tmp_path / "home", topology.url)
            yield topology, service.start(monkeypatch, portal)
    finally:
        topology.stop()


def test_a_schedule_read_through_the_api_while_redis_fails_over_shows_each_fire_once(
    failing_over: tuple[LocalSentinelRedis, InProcessService],
):
    topology, service = failing_over
    assert service.services is not None and service.portal is not None
    services, portal = service.services, service.portal
    with service.client() as api:
        made = api.post(
            "/api/schedules",
            json={"task": {"name": "ping", "function_name": "noop"}, "interval_seconds": 5},
        )
        assert made.status_code == 201, made.text
        schedule_id = made.json()["id"]
        store = ScheduleStore(services.redis, services.keys)
        start = int(portal.call(store.get, schedule_id).next_fire)  # type: ignore[union-attr]
        clock = FakeClock()
        clock.wall = float(start)
        firer = ScheduleFirer(
            store,
            submit_through(services.tasks, services.rate_limiter),
            services.keys.partition,
            clock,
            Settings(),
        )
        failover = threading.Thread(target=topology.fail_over)
        answers: set[int] = set()
        refused = 0
        for second in range(1, SECONDS + 1):
            clock.advance(1)
            while True:
                try:
                    portal.call(firer.tick)
                    break
                except StoreUnavailable:
                    refused += 1
                    answers.add(api.get(f"/api/schedules/{schedule_id}").status_code)
                    time.sleep(0.05)
            answers.add(api.get(f"/api/schedules/{schedule_id}").status_code)
            if second == FAIL_OVER_AT:
                failover.start()
            time.sleep(0.1)
        failover.join()
        assert refused, "the firer never felt the failover: the test proved nothing"
        assert answers <= {200, 503}, answers

        runs = api.get(f"/api/schedules/{schedule_id}").json()["runs"]
        assert [r["fire_time"] for r in runs] == sorted(
            {r["fire_time"] for r in runs}, reverse=True
        )  # each fire once
        assert len(runs) == SECONDS // 5 + 1  # at start, +5, ... +30
        for run in runs:
            assert run["status"] == "queued"
            task = api.get(f"/api/high-scale-tasks/status/{run['task_id']}")
            assert task.status_code == 200 and task.json()["name"] == "ping"
