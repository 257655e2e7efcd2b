"""How the scheduler's Ray job gets its settings without the dashboard showing a secret.

The dashboard shows every job's environment. `up` puts there the settings with the secrets
blanked and the Redis URL with its password masked, the names of what it withheld, and a
nonce; the full values go to a file only this user can read, on the node `up` runs on
(Ray runs job entrypoints on the head node). The job's host reads the file back and
checks its nonce, so a file left by an earlier start is never taken for this one.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from vokaflow.config import Settings

SETTINGS_ENV = "VOKAFLOW_SCHEDULER_SETTINGS"
REDIS_URL_ENV = "VOKAFLOW_SCHEDULER_REDIS_URL"
SECRETS_FILE_ENV = "VOKAFLOW_SCHEDULER_SECRETS_FILE"
NONCE_ENV = "VOKAFLOW_SCHEDULER_SECRETS_NONCE"
WITHHELD_ENV = "VOKAFLOW_SCHEDULER_WITHHELD"
MASK = "***"


class SecretsMissing(RuntimeError):
    """The job's environment withheld secrets that its file does not give back."""


def without_password(url: str) -> str:
    """``url`` with its password masked, in the user part or as a ``password`` query
    parameter (as redis-py also accepts it)."""
    parts = urlsplit(url)
    masked = url  # edited as text: urlunsplit would drop unix:///'s empty host
    if parts.password:
        masked = masked.replace(f":{parts.password}@", f":{MASK}@", 1)
    query = parse_qsl(parts.query, keep_blank_values=True)
    masked_query = [(name, MASK if name == "password" else value) for name, value in query]
    if masked_query != query:
        masked = masked.replace(f"?{parts.query}", "?" + urlencode(masked_query, safe="*"), 1)
    return masked


def job_env(settings: Settings, redis_url: str) -> dict[str, str]:
    """Writes the secrets file and returns the environment of the scheduler's job."""
    scheduler_settings = settings.model_copy(update={"jwt_secret": ""})  # it signs no tokens
    hidden = scheduler_settings.secrets()
    nonce = secrets.token_hex(16)
    path = settings.home / f"scheduler-secrets-{settings.key_prefix}.json"
    _write_private(path, json.dumps({"nonce": nonce, "settings": hidden, "redis_url": redis_url}))
    # without_secrets() blanks each secret, so a set one is withheld; the Redis URL the job
    # uses has its own variable, withheld only in its password
    withheld = [name for name, value in hidden.items() if value and name != "redis_url"]
    shown_url = without_password(redis_url)
    if shown_url != redis_url:
        withheld.append("the Redis password")
    return {
        SETTINGS_ENV: json.dumps(scheduler_settings.without_secrets().to_wire()),
        REDIS_URL_ENV: shown_url,
        SECRETS_FILE_ENV: str(path),
        NONCE_ENV: nonce,
        WITHHELD_ENV: ",".join(withheld),
    }


def settings_from_env(environ: dict[str, str]) -> tuple[Settings, str]:
    """The job's full settings and Redis URL: from the file when its nonce matches; from
    the environment alone only when nothing was withheld. SecretsMissing otherwise."""
    settings = Settings.from_wire(json.loads(environ[SETTINGS_ENV]))
    full = _read_matching(Path(environ.get(SECRETS_FILE_ENV, "")), environ.get(NONCE_ENV, ""))
    if full is not None:
        return settings.model_copy(update=full["settings"]), str(full["redis_url"])
    withheld = [name for name in environ.get(WITHHELD_ENV, "").split(",") if name]
    if withheld:
        raise SecretsMissing(
            f"{environ.get(SECRETS_FILE_ENV)} is missing or from another start, and the job "
            f"was started without {', '.join(withheld)}: run `vokaflow up` on the head node"
        )
    return settings, environ[REDIS_URL_ENV]


def _read_matching(path: Path, nonce: str) -> dict[str, Any] | None:
    try:
        full: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return full if nonce and full.get("nonce") == nonce else None


def _write_private(path: Path, text: str) -> None:
    """Mode 0600 from the start, and replaced whole: a reader sees the old file or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{secrets.token_hex(4)}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(text)
    os.replace(partial, path)
