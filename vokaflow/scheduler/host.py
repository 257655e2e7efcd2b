"""The scheduler's host: a Ray job that owns the scheduler actor and keeps it running.

Why a job: Ray force-exits idle worker processes of a job whose driver has gone. An actor
created by `vokaflow up` (a driver that exits with --detach) would make every chunk it
dispatches start a new worker process, about a second each on a small machine. Owned by a
long-running job, the workers stay warm. The host also re-creates the actor if it is
killed for good, and the job shows in the Ray dashboard beside its logs.

    python -m vokaflow.scheduler.host   (started by `vokaflow up` through the Jobs API)
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

import ray

from vokaflow.config import Settings
from vokaflow.scheduler import NAMESPACE
from vokaflow.scheduler.actor import ensure_scheduler
from vokaflow.webhooks.dispatcher import ensure_dispatcher

SETTINGS_ENV = "VOKAFLOW_SCHEDULER_SETTINGS"  # without secrets: the dashboard shows it
REDIS_URL_ENV = "VOKAFLOW_SCHEDULER_REDIS_URL"  # without its password, likewise
SECRETS_FILE_ENV = "VOKAFLOW_SCHEDULER_SECRETS_FILE"  # the rest, readable by this user only
WATCH_S = 2.0

log = logging.getLogger("vokaflow.scheduler.host")


def settings_and_redis_url() -> tuple[Settings, str]:
    """The job's settings and Redis URL, with the secrets put back from the secrets file."""
    settings = Settings.from_wire(json.loads(os.environ[SETTINGS_ENV]))
    path = Path(os.environ.get(SECRETS_FILE_ENV, ""))
    if not path.is_file():
        log.warning(
            "no secrets file at %s (`vokaflow up` writes it on the node it runs on): the "
            "scheduler runs without SMTP password, webhook secret and database URLs, and "
            "without the Redis password, if the Redis URL has one",
            path,
        )
        return settings, os.environ[REDIS_URL_ENV]
    hidden = json.loads(path.read_text())
    return settings.model_copy(update=hidden["settings"]), str(hidden["redis_url"])


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    settings, redis_url = settings_and_redis_url()
    ray.init(namespace=NAMESPACE, log_to_driver=True)
    while True:
        scheduler = ensure_scheduler(settings, redis_url)
        ensure_dispatcher(settings, redis_url)
        try:
            ray.get(scheduler.ping.remote(), timeout=30)
        except (ray.exceptions.RayError, TimeoutError):
            log.warning("scheduler did not answer; checking again", exc_info=True)
        time.sleep(WATCH_S)


if __name__ == "__main__":
    main()
