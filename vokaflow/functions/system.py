"""``system`` functions: health probes and load-shaping helpers for operators and drills."""

from __future__ import annotations

import logging
import os
import platform
import socket
import time
from typing import Any

import psutil

from vokaflow.functions.registry import function
from vokaflow.schemas import WorkerType

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@function(
    category="system",
    description="Reports the health of the worker node that runs it",
    estimated_duration="<1 second",
)
def health_check() -> dict[str, Any]:
    memory = psutil.virtual_memory()
    return {
        "status": "healthy",
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "python": platform.python_version(),
        "cpu_count": psutil.cpu_count(),
        "load_average": list(os.getloadavg()),
        "memory_percent": memory.percent,
        "memory_available_bytes": memory.available,
    }


@function(
    category="system",
    description="Does nothing and returns nothing; measures the service's own overhead",
    estimated_duration="<1 millisecond",
)
def noop() -> None:
    return None


@function(
    category="system",
    description="Holds a worker for the given number of seconds (load tests and drills)",
    estimated_duration="as requested",
)
def sleep(seconds: float = 1.0) -> dict[str, Any]:
    if not 0 <= float(seconds) <= 3600:
        raise ValueError("seconds must be between 0 and 3600")
    time.sleep(float(seconds))
    return {"slept_seconds": float(seconds), "pid": os.getpid()}


@function(
    category="system",
    worker_type=WorkerType.GENERAL_PURPOSE,
    description="Always raises with the given message (failure-handling drills)",
    estimated_duration="<1 millisecond",
)
def raise_error(message: str = "requested failure") -> None:
    raise RuntimeError(message)


@function(
    category="system",
    description="Prints a message and logs it at the given level; returns it (log drills)",
    estimated_duration="<1 millisecond",
)
def echo(message: str, level: str = "INFO") -> dict[str, Any]:
    print(message)
    logging.getLogger("vokaflow.functions.echo").log(
        logging.getLevelName(level.upper()) if level.upper() in LOG_LEVELS else logging.INFO,
        message,
    )
    return {"message": message}
