"""A reading of one Ray node's resources with psutil, taken on that node."""

from __future__ import annotations

import socket
import time
from typing import Any

import psutil
import ray

CPU_SAMPLE_S = 0.5


@ray.remote(num_cpus=0, max_retries=0)
def read_node(path: str = "/") -> dict[str, Any]:
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage(path)
    network = psutil.net_io_counters()
    return {
        "hostname": socket.gethostname(),
        "cpu_percent": psutil.cpu_percent(interval=CPU_SAMPLE_S),
        "cpu_count": psutil.cpu_count() or 1,
        "memory_total": memory.total,
        "memory_used": memory.total - memory.available,
        "disk_total": disk.total,
        "disk_used": disk.used,
        "bytes_sent": network.bytes_sent,
        "bytes_recv": network.bytes_recv,
        "read_at": time.time(),
    }
