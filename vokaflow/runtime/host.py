"""The scheduler's host: a Ray job that owns the scheduler actor and keeps it running.

Why a job: Ray force-exits idle worker processes of a job whose driver has gone. An actor
created by `vokaflow up` (a driver that exits with --detach) would make every chunk it
dispatches start a new worker process, about a second each on a small machine. Owned by a
long-running job, the workers stay warm. The host also re-creates the actor if it is
killed for good, and the job shows in the Ray dashboard beside its logs.

    python -m vokaflow.runtime.host   (started by `vokaflow up` through the Jobs API)
"""

from __future__ import annotations

import logging
import os
import time

import ray

from vokaflow.config import NAMESPACE
from vokaflow.runtime.job_secrets import RayKV, SecretsMissing, settings_from_env
from vokaflow.scheduler.actor import ensure_scheduler
from vokaflow.webhooks.dispatcher import ensure_dispatcher

WATCH_S = 2.0

log = logging.getLogger("vokaflow.runtime.host")


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    ray.init(namespace=NAMESPACE, log_to_driver=True)
    try:
        settings, redis_url = settings_from_env(dict(os.environ), RayKV())
    except SecretsMissing as exc:
        raise SystemExit(f"vokaflow scheduler: {exc}") from None
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
