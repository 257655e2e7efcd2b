"""The scheduler's ports on Ray: chunks run as remote calls, the pools' slots are read from
the cluster's resources, and each node reports its load through a pinned probe."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Generator, Sequence
from typing import Any

import ray
from ray.exceptions import RayError
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from vokaflow.domain import WorkerType
from vokaflow.domain.task import ClaimedTask, Outcome
from vokaflow.scheduler.ports import WorkerLost
from vokaflow.workers.env import WorkerEnv
from vokaflow.workers.executor import execute_chunk
from vokaflow.workers.node_probe import read_node
from vokaflow.workers.resources import ask_autoscaler, pool_slots, task_options

NODE_PROBE_TIMEOUT_S = 10.0


class RayChunk:
    """A chunk's remote call: awaiting it gives its outcomes, or WorkerLost."""

    def __init__(self, ref: ray.ObjectRef) -> None:
        self.ref = ref

    def __await__(self) -> Generator[Any, None, list[Outcome]]:
        return self._outcomes().__await__()

    async def _outcomes(self) -> list[Outcome]:
        try:
            outcomes: list[Outcome] = await self.ref
        except RayError as exc:
            raise WorkerLost(exc) from exc
        return outcomes


class RayExecutor:
    def __init__(self, scheduler_handle: Any, worker_env: WorkerEnv) -> None:
        self.scheduler_handle = scheduler_handle  # the executor reports each chunk's start
        self.worker_env = ray.put(worker_env)

    def launch(
        self, worker_type: WorkerType, tasks: Sequence[ClaimedTask], chunk_id: int
    ) -> RayChunk:
        ref = execute_chunk.options(**task_options(worker_type)).remote(
            list(tasks), chunk_id, self.scheduler_handle, self.worker_env
        )
        return RayChunk(ref)

    def stop(self, running: Awaitable[list[Outcome]]) -> None:
        assert isinstance(running, RayChunk)
        ray.cancel(running.ref, force=True)


class RayCluster:
    def pool_slots(self) -> dict[WorkerType, int]:
        return pool_slots(ray.cluster_resources())

    async def ask_for_slots(self, wanted: dict[WorkerType, int]) -> None:
        await asyncio.to_thread(ask_autoscaler, wanted)


async def read_nodes() -> dict[str, dict[str, Any]]:
    """A psutil reading from each alive Ray node; a node that does not answer is left out."""
    nodes = await asyncio.to_thread(ray.nodes)  # a blocking call to Ray's GCS
    refs = {
        node["NodeID"]: read_node.options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
        ).remote()
        for node in nodes
        if node.get("Alive")
    }
    ready, not_ready = await asyncio.to_thread(
        ray.wait, list(refs.values()), num_returns=len(refs), timeout=NODE_PROBE_TIMEOUT_S
    )
    for ref in not_ready:
        ray.cancel(ref, force=True)
    readings: dict[str, dict[str, Any]] = {}
    for node_id, ref in refs.items():
        if ref in ready:
            with contextlib.suppress(RayError):
                readings[node_id] = await ref
    return readings
