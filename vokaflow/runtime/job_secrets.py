"""How the scheduler's Ray job gets its settings without the dashboard showing a secret.

The dashboard shows every job's environment. `up` puts there the settings with the secrets
blanked and the Redis URL with its password masked, the names of what it withheld, and a
nonce. The full values go to Ray's internal key-value store in the GCS, under a key named
by the nonce, which the dashboard does not show and which `up` reaches from any machine
that can reach the cluster. The job's host takes them back (reads and deletes) on start.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

from vokaflow.config import Settings

SETTINGS_ENV = "VOKAFLOW_SCHEDULER_SETTINGS"
REDIS_URL_ENV = "VOKAFLOW_SCHEDULER_REDIS_URL"
NONCE_ENV = "VOKAFLOW_SCHEDULER_SECRETS_NONCE"
WITHHELD_ENV = "VOKAFLOW_SCHEDULER_WITHHELD"
MASK = "***"
KV_NAMESPACE = "vokaflow"


class SecretStore(Protocol):
    """Where `up` leaves the secrets for the host: Ray's internal KV (RayKV)."""

    def put(self, key: str, value: str) -> None: ...

    def take(self, key: str) -> str | None:
        """The value, deleted as it is read; None when there is none."""
        ...

    def delete_prefix(self, prefix: str) -> None: ...


class RayKV:
    """Ray's internal key-value store (held by the GCS), in the service's namespace. It
    connects to the cluster (RAY_ADDRESS, else the local one) where nothing has yet, as
    under `serve run` with the gateway's app builder."""

    def put(self, key: str, value: str) -> None:
        self._kv()._internal_kv_put(key, value, namespace=KV_NAMESPACE)

    def take(self, key: str) -> str | None:
        kv = self._kv()
        value = kv._internal_kv_get(key, namespace=KV_NAMESPACE)
        kv._internal_kv_del(key, namespace=KV_NAMESPACE)
        return None if value is None else value.decode()

    def delete_prefix(self, prefix: str) -> None:
        self._kv()._internal_kv_del(prefix, del_by_prefix=True, namespace=KV_NAMESPACE)

    @staticmethod
    def _kv() -> Any:
        import ray
        from ray.experimental import internal_kv

        if not ray.is_initialized():
            ray.init(address=os.environ.get("RAY_ADDRESS", "auto"), log_to_driver=False)
        return internal_kv


def secrets_key(key_prefix: str, nonce: str = "") -> str:
    return f"scheduler-secrets:{key_prefix}:{nonce}"


class SecretsMissing(RuntimeError):
    """The job's environment withheld secrets that its file does not give back."""


_PASSWORDS = ("password", "sentinel_password")


def without_password(url: str) -> str:
    """``url`` with its passwords masked, in the user part or as a ``password`` query
    parameter (as redis-py also accepts it), and a Sentinel URL's ``sentinel_password``."""
    parts = urlsplit(url)
    masked = url  # edited as text: urlunsplit would drop unix:///'s empty host
    if parts.password:
        masked = masked.replace(f":{parts.password}@", f":{MASK}@", 1)
    query = parse_qsl(parts.query, keep_blank_values=True)
    masked_query = [(name, MASK if name in _PASSWORDS else value) for name, value in query]
    if masked_query != query:
        masked = masked.replace(f"?{parts.query}", "?" + urlencode(masked_query, safe="*"), 1)
    return masked


def job_env(settings: Settings, redis_url: str, store: SecretStore) -> dict[str, str]:
    """Leaves the secrets in ``store`` and returns the environment of the scheduler's job.
    Secrets left by earlier starts that never ran are removed first."""
    scheduler_settings = settings.model_copy(update={"jwt_secret": ""})  # it signs no tokens
    hidden = scheduler_settings.secrets()
    nonce = secrets.token_hex(16)
    store.delete_prefix(secrets_key(settings.key_prefix))
    store.put(
        secrets_key(settings.key_prefix, nonce),
        json.dumps({"settings": hidden, "redis_url": redis_url}),
    )
    # without_secrets() blanks each secret, so a set one is withheld; the Redis URL the job
    # uses has its own variable, withheld only in its password
    withheld = [name for name, value in hidden.items() if value and name != "redis_url"]
    shown_url = without_password(redis_url)
    if shown_url != redis_url:
        withheld.append("the Redis password")
    return {
        SETTINGS_ENV: json.dumps(scheduler_settings.without_secrets().to_wire()),
        REDIS_URL_ENV: shown_url,
        NONCE_ENV: nonce,
        WITHHELD_ENV: ",".join(withheld),
    }


def settings_from_env(environ: dict[str, str], store: SecretStore) -> tuple[Settings, str]:
    """The job's full settings and Redis URL: with the secrets its start left in ``store``
    (taken, so they are read once); from the environment alone only when nothing was
    withheld. SecretsMissing otherwise."""
    settings = Settings.from_wire(json.loads(environ[SETTINGS_ENV]))
    nonce = environ.get(NONCE_ENV, "")
    stored = store.take(secrets_key(settings.key_prefix, nonce)) if nonce else None
    if stored is not None:
        full: dict[str, Any] = json.loads(stored)
        return settings.model_copy(update=full["settings"]), str(full["redis_url"])
    withheld = [name for name in environ.get(WITHHELD_ENV, "").split(",") if name]
    if withheld:
        raise SecretsMissing(
            f"the secrets of this start ({', '.join(withheld)}) are not in Ray's key-value "
            "store: they are read once, so start the service again with `vokaflow up`"
        )
    return settings, environ[REDIS_URL_ENV]
