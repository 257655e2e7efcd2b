"""The Celery baseline's app: one no-op task, Redis as broker and result backend."""

from __future__ import annotations

import os

from celery import Celery

BROKER = os.environ.get("CELERY_BENCH_BROKER", "redis://127.0.0.1:6379/15")

app = Celery("celery_noop", broker=BROKER, backend=BROKER)
app.conf.update(result_expires=600, worker_prefetch_multiplier=64, task_acks_late=False)


@app.task(name="noop")
def noop() -> None:
    return None
