"""Settings split into what may be shown (the Ray dashboard shows a job's environment) and
the secrets, which the scheduler's host puts back from its file."""

from __future__ import annotations

import json

import pytest

from vokaflow.config import SECRET_FIELDS, Settings
from vokaflow.runtime.launcher import without_password, write_scheduler_secrets
from vokaflow.scheduler import host

PG = "postgresql://app:s3cret@db:5432/app"


def _settings(tmp_path) -> Settings:
    return Settings(
        home=tmp_path,
        jwt_secret="jwt-secret",
        smtp_password="smtp-secret",
        notify_webhook_secret="hook-secret",
        database_url=PG,
        databases={"warehouse": PG},
        smtp_host="mail.example",
    )


def test_the_shown_copy_blanks_every_secret_and_keeps_the_rest(tmp_path):
    shown = _settings(tmp_path).without_secrets()
    wire = json.dumps(shown.to_wire())
    for secret in ("jwt-secret", "smtp-secret", "hook-secret", "s3cret"):
        assert secret not in wire
    assert shown.smtp_host == "mail.example"
    assert set(shown.secrets()) == set(SECRET_FIELDS)


def test_putting_the_secrets_back_gives_the_original_settings(tmp_path):
    settings = _settings(tmp_path)
    restored = settings.without_secrets().model_copy(update=settings.secrets())
    assert restored.to_wire() == settings.to_wire()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@10.0.0.5:6379/0", "redis://:***@10.0.0.5:6379/0"),
        ("rediss://user:pw@redis.internal:6380", "rediss://user:***@redis.internal:6380"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
)
def test_a_redis_url_is_shown_without_its_password(url, shown):
    assert without_password(url) == shown


def test_the_scheduler_host_restores_secrets_and_the_real_redis_url(tmp_path, monkeypatch):
    settings = _settings(tmp_path)
    path = write_scheduler_secrets(settings, "redis://:pw@10.0.0.5:6379/0")
    monkeypatch.setenv(host.SETTINGS_ENV, json.dumps(settings.without_secrets().to_wire()))
    monkeypatch.setenv(host.REDIS_URL_ENV, without_password("redis://:pw@10.0.0.5:6379/0"))
    monkeypatch.setenv(host.SECRETS_FILE_ENV, str(path))
    restored, redis_url = host.settings_and_redis_url()
    assert redis_url == "redis://:pw@10.0.0.5:6379/0"
    assert restored.smtp_password == "smtp-secret"
    assert restored.databases == {"warehouse": PG}
    assert restored.jwt_secret == ""  # the scheduler signs no tokens


def test_without_its_file_the_host_runs_on_what_the_job_was_given(tmp_path, monkeypatch):
    settings = _settings(tmp_path)
    monkeypatch.setenv(host.SETTINGS_ENV, json.dumps(settings.without_secrets().to_wire()))
    monkeypatch.setenv(host.REDIS_URL_ENV, "redis://127.0.0.1:6379/0")
    monkeypatch.setenv(host.SECRETS_FILE_ENV, str(tmp_path / "missing.json"))
    restored, redis_url = host.settings_and_redis_url()
    assert redis_url == "redis://127.0.0.1:6379/0"
    assert restored.smtp_password == ""
