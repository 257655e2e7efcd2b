"""GET /api/health/: healthy only while Redis and the scheduler both answer."""

from __future__ import annotations

import os
import time
from datetime import datetime
from unittest import mock

import httpx

from tests import ray_driver
from vokaflow.config import NAMESPACE, load_settings
from vokaflow.runtime.launcher import stop_scheduler_job
from vokaflow.scheduler import SCHEDULER_NAME


def test_health_reports_the_spec_fields(stack):
    body = httpx.get(f"{stack.base_url}/api/health/").json()
    assert body["status"] == "healthy"
    assert body["version"] == "2.0.0"
    assert body["environment"] == "test"
    assert isinstance(body["uptime"], float)
    datetime.fromisoformat(body["timestamp"])


def test_health_is_503_naming_the_scheduler_when_it_is_gone_and_200_once_back(stack):
    stack_vars = {k: v for k, v in stack.env.items() if k.startswith("VOKAFLOW_")}
    with mock.patch.dict(os.environ, stack_vars):
        settings = load_settings()
    stop_scheduler_job(settings)
    scheduler = {"name": SCHEDULER_NAME, "namespace": NAMESPACE}
    ray_driver.call(stack.ray_address, "kill_actor", **scheduler, restart=False)
    try:
        deadline = time.monotonic() + 20
        while (reply := httpx.get(f"{stack.base_url}/api/health/")).status_code == 200:
            assert time.monotonic() < deadline, "health stayed 200 without a scheduler"
            time.sleep(0.5)
        assert reply.status_code == 503
        assert reply.json()["details"]["component"] == "scheduler"
    finally:
        ray_driver.call(
            stack.ray_address, "start_scheduler_job", env=stack_vars, redis_url=stack.redis_url
        )
    deadline = time.monotonic() + 60
    while httpx.get(f"{stack.base_url}/api/health/").status_code != 200:
        assert time.monotonic() < deadline, "health did not recover with a new scheduler"
        time.sleep(0.5)
