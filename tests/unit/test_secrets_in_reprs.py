"""Low finding: the reprs of the settings and of the workers' environment printed the
database, SMTP and Redis passwords (they reach logs, tracebacks and Ray's dashboard)."""

from __future__ import annotations

from vokaflow.config import Settings
from vokaflow.workers.env import WorkerEnv

SECRETS = {
    "redis_url": "redis://:redis-pass-1@db.internal:6379/0",
    "database_url": "postgresql://app:db-pass-2@pg.internal/app",
    "databases": {"reports": "postgresql://r:db-pass-3@pg.internal/r"},
    "smtp_password": "smtp-pass-4",
    "jwt_secret": "jwt-pass-5-long-enough-for-hs256-0000000000",
    "notify_webhook_secret": "notify-pass-6",
}
PASSWORDS = ("redis-pass-1", "db-pass-2", "db-pass-3", "smtp-pass-4", "jwt-pass-5", "notify-pass-6")


def test_the_settings_repr_and_str_hold_no_password():
    settings = Settings(**SECRETS)  # type: ignore[arg-type]
    shown = repr(settings) + str(settings)
    assert [p for p in PASSWORDS if p in shown] == []


def test_the_worker_environment_repr_holds_no_password():
    settings = Settings(**SECRETS)  # type: ignore[arg-type]
    env = WorkerEnv(SECRETS["redis_url"], settings.to_wire())  # type: ignore[arg-type]
    assert [p for p in PASSWORDS if p in repr(env)] == []
