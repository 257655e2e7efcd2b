"""Settings split into what may be shown (the Ray dashboard shows a job's environment) and
the secrets, which the scheduler's host takes back, once, from the key-value store entry
that its own start left."""

from __future__ import annotations

import json

import pytest

from vokaflow.config import SECRET_FIELDS, Settings
from vokaflow.runtime.job_secrets import (
    NONCE_ENV,
    SETTINGS_ENV,
    WITHHELD_ENV,
    SecretsMissing,
    job_env,
    secrets_key,
    settings_from_env,
    without_password,
)


class DictStore:
    """Ray's internal KV as the job_secrets functions use it, in a dict."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def put(self, key: str, value: str) -> None:
        self.values[key] = value

    def take(self, key: str) -> str | None:
        return self.values.pop(key, None)

    def delete_prefix(self, prefix: str) -> None:
        for key in [k for k in self.values if k.startswith(prefix)]:
            del self.values[key]


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


def test_the_job_environment_carries_no_secret_and_the_store_holds_them(tmp_path):
    store = DictStore()
    env = job_env(_settings(tmp_path), REDIS, store)
    shown = json.dumps(env)
    for secret in ("jwt-secret", "smtp-secret", "hook-secret", "s3cret", "r3dis"):
        assert secret not in shown
    assert list(store.values) == [secrets_key("vokaflow", env[NONCE_ENV])]
    assert set(env[WITHHELD_ENV].split(",")) == {
        "smtp_password",
        "notify_webhook_secret",
        "database_url",
        "databases",
        "the Redis password",
    }


def test_the_host_takes_back_the_secrets_and_the_real_redis_url_once(tmp_path):
    store = DictStore()
    env = job_env(_settings(tmp_path), REDIS, store)
    restored, redis_url = settings_from_env(env, store)
    assert redis_url == REDIS
    assert restored.smtp_password == "smtp-secret"
    assert restored.databases == {"warehouse": PG}
    assert restored.jwt_secret == ""  # the scheduler signs no tokens
    assert store.values == {}
    with pytest.raises(SecretsMissing, match="smtp_password"):
        settings_from_env(env, store)


def test_a_later_start_replaces_the_secrets_an_earlier_one_left(tmp_path):
    store = DictStore()
    first = job_env(_settings(tmp_path), REDIS, store)
    second = job_env(_settings(tmp_path, smtp_password="newer"), REDIS, store)
    with pytest.raises(SecretsMissing, match="smtp_password"):
        settings_from_env(first, store)
    assert settings_from_env(second, store)[0].smtp_password == "newer"


def test_two_services_on_one_cluster_keep_their_own_secrets(tmp_path):
    store = DictStore()
    ours = job_env(_settings(tmp_path), REDIS, store)
    theirs = job_env(_settings(tmp_path, key_prefix="other", smtp_password="x"), REDIS, store)
    assert settings_from_env(ours, store)[0].smtp_password == "smtp-secret"
    assert settings_from_env(theirs, store)[0].smtp_password == "x"


def test_without_its_secrets_the_host_refuses_to_run_on_blanked_ones(tmp_path):
    env = job_env(_settings(tmp_path), REDIS, DictStore())
    with pytest.raises(SecretsMissing, match="the Redis password"):
        settings_from_env(env, DictStore())


def test_without_its_secrets_the_host_runs_when_nothing_was_withheld(tmp_path):
    plain = Settings(home=tmp_path, jwt_secret="only-the-gateway-needs-it")
    env = job_env(plain, "redis://127.0.0.1:6379/0", DictStore())
    assert env[WITHHELD_ENV] == ""
    restored, redis_url = settings_from_env(env, DictStore())
    assert redis_url == "redis://127.0.0.1:6379/0"
    assert restored.to_wire() == json.loads(env[SETTINGS_ENV])
