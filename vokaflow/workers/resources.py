"""The one mapping from worker type to Ray resources.

Every node advertises one custom resource per worker type; a task of that type asks for one
unit of it, so a pool's slots are the sum of that resource over the nodes that have it. The
slots per CPU reflect how much of a core each kind of work uses: IO and network tasks mostly
wait, so a core carries several of them.
"""

from __future__ import annotations

from typing import Any

from vokaflow.domain import WorkerType

POOL_RESOURCE: dict[WorkerType, str] = {
    WorkerType.CPU_INTENSIVE: "vokaflow_cpu",
    WorkerType.IO_INTENSIVE: "vokaflow_io",
    WorkerType.MEMORY_INTENSIVE: "vokaflow_memory",
    WorkerType.NETWORK_INTENSIVE: "vokaflow_network",
    WorkerType.GENERAL_PURPOSE: "vokaflow_general",
}

SLOTS_PER_CPU: dict[WorkerType, float] = {
    WorkerType.CPU_INTENSIVE: 1.0,
    WorkerType.IO_INTENSIVE: 4.0,
    WorkerType.MEMORY_INTENSIVE: 0.5,
    WorkerType.NETWORK_INTENSIVE: 4.0,
    WorkerType.GENERAL_PURPOSE: 2.0,
}


def node_resources(num_cpus: int) -> dict[str, float]:
    """The custom resources a node with ``num_cpus`` cores advertises (at least 1 each)."""
    return {
        POOL_RESOURCE[worker_type]: max(1.0, float(int(num_cpus * per_cpu)))
        for worker_type, per_cpu in SLOTS_PER_CPU.items()
    }


def task_options(worker_type: WorkerType) -> dict[str, Any]:
    """``.options(...)`` for a remote call that occupies one slot of ``worker_type``'s pool."""
    return {"num_cpus": 0, "resources": {POOL_RESOURCE[worker_type]: 1.0}}


def pool_slots(cluster_resources: dict[str, float]) -> dict[WorkerType, int]:
    """Slots each pool has on the cluster, read from ``ray.cluster_resources()``."""
    return {
        worker_type: int(cluster_resources.get(resource, 0.0))
        for worker_type, resource in POOL_RESOURCE.items()
    }


def ask_autoscaler(asks: dict[WorkerType, int]) -> None:
    """Tell Ray's autoscaler how many slots each pool wants; it adds nodes of the matching
    node types (cluster.yaml) until they fit. Replaces the previous ask: an empty one lets
    idle nodes go after the cluster's idle timeout. Blocking (a call to the GCS)."""
    from ray.autoscaler.sdk import request_resources

    request_resources(
        bundles=[{POOL_RESOURCE[wt]: 1.0} for wt, slots in asks.items() for _ in range(slots)]
    )
