"""The service's own logs: JSON lines on stderr (Ray keeps them per process) and, at INFO
and above, the system log stream in Redis that GET /api/logs serves.

Writes to Redis happen on a background thread in batches, so logging never waits on Redis
and a Redis outage loses log entries, never requests.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import sys
import threading
import traceback
from typing import Any

from vokaflow.clock import iso_event
from vokaflow.store.keys import Keys
from vokaflow.store.logs import SystemLogSink

FLUSH_EVERY_S = 0.5
MAX_BUFFERED = 10_000
SERVICE_LOGGER = "vokaflow"
_installed: set[str] = set()


def entry_of(record: logging.LogRecord, component: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "timestamp": record.created,
        "level": record.levelname,
        "event": "log",
        "component": component,
        "source": record.name,
        "message": record.getMessage(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
    }
    if record.exc_info and record.exc_info[0] is not None:
        entry["exception"] = "".join(traceback.format_exception(*record.exc_info))[-4000:]
    return entry


class JsonFormatter(logging.Formatter):
    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        entry = entry_of(record, self.component)
        entry["timestamp"] = iso_event(record.created)
        return json.dumps(entry, default=str)


class RedisLogHandler(logging.Handler):
    def __init__(self, redis_url: str, keys: Keys, component: str) -> None:
        super().__init__(logging.INFO)
        self.redis_url = redis_url
        self.keys = keys
        self.component = component
        self.pending: queue.Queue[dict[str, Any]] = queue.Queue(MAX_BUFFERED)
        threading.Thread(target=self._flush_forever, name="vokaflow-logs", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            entry = entry_of(record, self.component)
        except Exception:  # a bad format string must not reach the caller
            self.handleError(record)
            return
        # Redis away and the buffer full: drop the entry, never block the caller
        with contextlib.suppress(queue.Full):
            self.pending.put_nowait(entry)

    def _flush_forever(self) -> None:
        sink = SystemLogSink(self.redis_url, self.keys)
        while True:
            batch = [self.pending.get()]
            while not self.pending.empty() and len(batch) < 500:
                batch.append(self.pending.get_nowait())
            try:
                sink.write(batch)
            except Exception as exc:  # logging about logging would loop: say it on stderr
                print(f"vokaflow: system log write failed: {exc!r}", file=sys.stderr)
                threading.Event().wait(FLUSH_EVERY_S)


def install_service_logging(component: str, redis_url: str, keys: Keys) -> None:
    """Once per process: JSON on stderr, and INFO and above to the system log stream."""
    if component in _installed:
        return
    _installed.add(component)
    logger = logging.getLogger(SERVICE_LOGGER)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(JsonFormatter(component))
    logger.addHandler(stderr)
    logger.addHandler(RedisLogHandler(redis_url, keys, component))
