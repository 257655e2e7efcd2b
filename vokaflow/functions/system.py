"""``system`` functions: node health, cache and log housekeeping, state backups."""

from __future__ import annotations

import os
import platform
import socket
from typing import Any

import psutil

from vokaflow.functions.registry import function

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
