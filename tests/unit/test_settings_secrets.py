"""Settings split into what may be shown (the Ray dashboard shows a job's environment) and
the secrets, which the scheduler's host takes back from a file only when it belongs to
this start."""

from __future__ import annotations

import json
import stat

import pytest

from vokaflow.config import SECRET_FIELDS, Settings
from vokaflow.runtime.job_secrets import (
    NONCE_ENV,
    SECRETS_FILE_ENV,
    SETTINGS_ENV,
    WITHHELD_ENV,
    SecretsMissing,
    job_env,
    settings_from_env,
    without_password,
)

PG = "postgresql://app:s3cret@db:5432/app"
REDIS = "redis://:r3dis@10.0.0.5:6379/0"


def _settings(tmp_path, **overrides) -> Settings:
    fields = {
        "home": tmp_path,
        "jwt_secret": "jwt-secret",
        "smtp_password": "smtp-secret",
        "notify_webhook_secret": "hook-secret",
        "database_url": PG,
        "databases": {"warehouse": PG},
        "smtp_host": "mail.example",
        "redis_url": REDIS,
    }
    return Settings(**{**fields, **overrides})


def test_the_shown_copy_blanks_every_secret_and_keeps_the_rest(tmp_path):
    shown = _settings(tmp_path).without_secrets()
    wire = json.dumps(shown.to_wire())
    for secret in ("jwt-secret", "smtp-secret", "hook-secret", "s3cret", "r3dis"):
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
        ("rediss://user:p%40ss@redis.internal:6380", "rediss://user:***@redis.internal:6380"),
        ("redis://10.0.0.5:6379/0?password=pw&db=2", "redis://10.0.0.5:6379/0?password=***&db=2"),
        ("unix:///run/redis.sock?password=pw", "unix:///run/redis.sock?password=***"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
)
def test_a_redis_url_is_shown_without_its_password(url, shown):
    assert without_password(url) == shown


def test_the_job_environment_carries_no_secret_and_its_file_is_private(tmp_path):
    env = job_env(_settings(tmp_path), REDIS)
    shown = json.dumps(env)
    for secret in ("jwt-secret", "smtp-secret", "hook-secret", "s3cret", "r3dis"):
        assert secret not in shown
    path = tmp_path / env[SECRETS_FILE_ENV].rsplit("/", 1)[-1]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(env[WITHHELD_ENV].split(",")) == {
        "smtp_password",
        "notify_webhook_secret",
        "database_url",
        "databases",
        "the Redis password",
    }


def test_the_host_takes_back_the_secrets_and_the_real_redis_url(tmp_path):
    restored, redis_url = settings_from_env(job_env(_settings(tmp_path), REDIS))
    assert redis_url == REDIS
    assert restored.smtp_password == "smtp-secret"
    assert restored.databases == {"warehouse": PG}
    assert restored.jwt_secret == ""  # the scheduler signs no tokens


def test_a_file_from_another_start_is_not_taken_for_this_one(tmp_path):
    first = job_env(_settings(tmp_path), REDIS)
    job_env(_settings(tmp_path, smtp_password="newer"), REDIS)  # same path, new nonce
    with pytest.raises(SecretsMissing, match="smtp_password"):
        settings_from_env(first)


def test_without_its_file_the_host_refuses_to_run_on_blanked_secrets(tmp_path):
    env = job_env(_settings(tmp_path), REDIS)
    (tmp_path / env[SECRETS_FILE_ENV].rsplit("/", 1)[-1]).unlink()
    with pytest.raises(SecretsMissing, match="the Redis password"):
        settings_from_env(env)


def test_without_its_file_the_host_runs_when_nothing_was_withheld(tmp_path):
    plain = Settings(home=tmp_path, jwt_secret="only-the-gateway-needs-it")
    env = job_env(plain, "redis://127.0.0.1:6379/0")
    assert env[WITHHELD_ENV] == ""
    env = {**env, NONCE_ENV: "another start"}
    restored, redis_url = settings_from_env(env)
    assert redis_url == "redis://127.0.0.1:6379/0"
    assert restored.to_wire() == json.loads(env[SETTINGS_ENV])
