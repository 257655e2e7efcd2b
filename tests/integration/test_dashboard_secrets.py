"""The Ray dashboard shows each job's environment and each Serve application's config:
none of it may carry a password, a signing secret or a database URL. The scheduler still
has them (the notification and database tests depend on that): it took them from Ray's
internal key-value store, where they are left for it once."""

from __future__ import annotations

import json

import httpx
from ray.job_submission import JobStatus, JobSubmissionClient

from tests import ray_driver
from tests.conftest import NOTIFY_WEBHOOK_SECRET, POSTGRES_ADMIN_URL, POSTGRES_URL
from vokaflow.runtime.job_secrets import KV_NAMESPACE, NONCE_ENV, secrets_key
from vokaflow.runtime.launcher import SCHEDULER_JOB_KIND

SECRETS = (NOTIFY_WEBHOOK_SECRET, POSTGRES_URL, POSTGRES_ADMIN_URL)


def _dashboard(stack) -> str:
    return f"http://127.0.0.1:{stack.dashboard_port}"


def _scheduler_job(stack):
    jobs = [
        job
        for job in JobSubmissionClient(_dashboard(stack)).list_jobs()
        if (job.metadata or {}).get("kind") == SCHEDULER_JOB_KIND
        and (job.metadata or {}).get("key_prefix") == stack.key_prefix
        and job.status == JobStatus.RUNNING
    ]
    assert len(jobs) == 1, jobs
    return jobs[0]


def test_the_scheduler_job_the_dashboard_shows_carries_no_secret(stack):
    job = _scheduler_job(stack)
    shown = json.dumps([job.entrypoint, job.runtime_env, job.metadata])
    for secret in SECRETS:
        assert secret not in shown
    assert "notify_webhook_secret" in shown  # the settings are there, blanked


def test_the_scheduler_took_its_secrets_and_left_none_behind(stack):
    nonce = _scheduler_job(stack).runtime_env["env_vars"][NONCE_ENV]
    left = ray_driver.call(
        stack.ray_address, "kv_keys", prefix=secrets_key(stack.key_prefix), namespace=KV_NAMESPACE
    )
    assert nonce and left == []
    assert not list(stack.home.rglob("*secrets*"))


def test_the_serve_applications_the_dashboard_shows_carry_no_secret(stack):
    reply = httpx.get(f"{_dashboard(stack)}/api/serve/applications/", timeout=10)
    assert reply.status_code == 200
    assert "vokaflow" in reply.json()["applications"]
    for secret in (*SECRETS, (stack.home / "jwt_secret").read_text().strip()):
        assert secret not in reply.text
