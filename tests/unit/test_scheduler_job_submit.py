"""`vokaflow up` submits the scheduler's host job once the head's job agent takes it: the
refusal Ray gives before its agent registers is waited out, any other error is raised."""

from __future__ import annotations

from typing import Any

import pytest

from vokaflow.config import Settings
from vokaflow.runtime import launcher


class FlakyJobClient:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.submitted: list[dict[str, Any]] = []

    def list_jobs(self) -> list[Any]:
        return []

    def submit_job(self, **job: Any) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.submitted.append(job)
        return str(job["submission_id"])


@pytest.fixture
def job_client(monkeypatch: pytest.MonkeyPatch):
    def install(failures: list[Exception]) -> FlakyJobClient:
        client = FlakyJobClient(failures)
        monkeypatch.setattr(launcher, "_job_client", lambda settings: client)
        monkeypatch.setattr(launcher, "_scheduler_jobs", lambda *a, **k: client.list_jobs())
        monkeypatch.setattr(launcher, "job_env", lambda settings, url, kv: {"K": "v"})
        monkeypatch.setattr(launcher, "RayKV", lambda: None)
        monkeypatch.setattr(launcher.time, "sleep", lambda s: None)
        return client

    return install


def test_a_submit_refused_before_the_job_agent_registers_is_tried_again(job_client):
    refused = RuntimeError(f"Request failed with status code 503: {launcher.NO_JOB_AGENT}.")
    client = job_client([refused, refused])
    launcher.start_scheduler_job(Settings(), "redis://127.0.0.1:1/0")
    assert len(client.submitted) == 1
    assert client.submitted[0]["entrypoint"].endswith("-m vokaflow.runtime.host")


def test_any_other_submit_error_is_raised_at_once(job_client):
    client = job_client([RuntimeError("Request failed with status code 400: bad runtime_env")])
    with pytest.raises(RuntimeError, match="bad runtime_env"):
        launcher.start_scheduler_job(Settings(), "redis://127.0.0.1:1/0")
    assert client.submitted == []
