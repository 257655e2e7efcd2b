"""`vokaflow up` on a Ray head with token authentication: the service works end to end
(gateway, scheduler job, workers, the CLI, `down`), and Ray refuses whoever comes without
the token. Also what `up` does for other users of the machine: the home it was given open
to all is closed, and the embedded Redis wants its password, which the dashboard never
shows."""

from __future__ import annotations

import json
import socket
import stat
import subprocess
import sys
from urllib.parse import urlsplit

import httpx
import pytest
import redis

from tests.integration.helpers import submit, wait_until
from vokaflow.runtime.launcher import SCHEDULER_JOB_KIND


def _jobs(stack, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"http://127.0.0.1:{stack.dashboard_port}/api/jobs/"
    return httpx.get(url, headers=headers, timeout=10)


def test_a_task_runs_end_to_end_through_the_api(token_stack):
    with token_stack.client() as api:
        task = submit(api, "sleep", kwargs={"seconds": 0}, retry_count=0)
        done = wait_until(api, task["task_id"])
    assert done["status"] == "completed", done


def test_a_key_made_with_the_cli_works(token_stack):
    created = token_stack.cli("keys", "create", "--name", "token-auth-tenant")
    with token_stack.client(api_key=created.stdout.strip().splitlines()[-1]) as tenant:
        task = submit(tenant, "sleep", kwargs={"seconds": 0}, retry_count=0)
        assert wait_until(tenant, task["task_id"])["status"] == "completed"


def test_the_jobs_api_refuses_a_client_without_the_token(token_stack, ray_token):
    assert _jobs(token_stack, None).status_code == 401
    assert _jobs(token_stack, "0" * 64).status_code in (401, 403)
    jobs = _jobs(token_stack, ray_token)
    assert jobs.status_code == 200
    assert any((job["metadata"] or {}).get("kind") == SCHEDULER_JOB_KIND for job in jobs.json())


def test_a_ray_driver_with_a_wrong_token_is_refused(token_stack):
    join = f"import ray; ray.init(address='{token_stack.ray_address}')"
    # Ray tries to reach the GCS once a second for 20 s before it gives up; the first
    # refusal already names the token, so two tries prove the same in a tenth of the time.
    env = {**token_stack.env, "RAY_AUTH_TOKEN": "0" * 64, "RAY_gcs_server_port_wait_time_s": "2"}
    refused = subprocess.run(
        [sys.executable, "-c", join], env=env, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode != 0
    assert "token" in refused.stderr.lower(), refused.stderr[-2000:]


def test_up_closed_its_home_and_the_embedded_redis_wants_its_password(token_stack, ray_token):
    assert stat.S_IMODE(token_stack.home.stat().st_mode) == 0o700
    url = urlsplit(token_stack.redis_url)
    assert url.password
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=url.port).ping()
    shown = json.dumps(_jobs(token_stack, ray_token).json())
    assert token_stack.key_prefix in shown and url.password not in shown


def test_down_stops_the_service_and_its_head(token_stack):
    down = token_stack.cli("down")
    assert "ray (serve, scheduler)" in down.stdout and "embedded redis" in down.stdout
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", token_stack.ray_port)) != 0
