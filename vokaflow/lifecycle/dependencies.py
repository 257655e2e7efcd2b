"""Dependencies between tasks: a child waits (status ``waiting``) until its parents end, then
runs, or ends ``upstream_failed`` without running when a parent did not complete (unless its
trigger rule is ``all_done``).

Three ways a child hears of a parent's end, all counted once per parent in the child's slot
(dep_done.lua): the parent's end itself (TaskEnding calls ``parents_ended``), the child's
own registration when a parent had already ended (``attach``), and a sweep of the children
that have waited a while (``sweep``), which mends an end that was never told (a process that
died between the two writes). A child released gets its parents' results first when it asks
for them (``pass_results_as``)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from vokaflow.domain import TaskField, TaskStatus
from vokaflow.domain.task import TaskSpec
from vokaflow.store.dependency_store import DependencyStore, ParentEnd, has_ended
from vokaflow.store.task_store import TaskStore

SWEEP_PER_PARTITION = 200
SWEEP_AGAIN_MS = 30_000


class Dependencies:
    def __init__(
        self,
        store: DependencyStore,
        tasks: TaskStore,
        wake: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.store = store
        self.tasks = tasks
        self.wake = wake or tasks.notify_scheduler

    async def attach(self, children: Sequence[TaskSpec], now: float) -> list[str]:
        """Register written waiting children with their parents and count the parents that
        had already ended. Returns the children that ended upstream_failed."""
        edges = [(child.task_id, parent_id) for child in children for parent_id in child.depends_on]
        statuses = await self.store.register(edges)
        ends = [
            ParentEnd(child_id, parent_id, status)
            for (child_id, parent_id), status in zip(edges, statuses, strict=True)
            if has_ended(status)
        ]
        return await self._count(ends, now)

    async def parents_ended(self, ended: Sequence[tuple[str, TaskStatus]], now: float) -> list[str]:
        """Tell each ended task's children. Returns the children that ended upstream_failed."""
        children = await self.store.children([task_id for task_id, _ in ended])
        ends = [
            ParentEnd(child_id, parent_id, status.value)
            for parent_id, status in ended
            for child_id in children[parent_id]
        ]
        return await self._count(ends, now)

    async def sweep(self, now: float) -> list[str]:
        """Check the parents of children that waited past their next check themselves.
        Returns the children that ended upstream_failed."""
        due = await self.store.due_for_a_check(int(now * 1000), SWEEP_PER_PARTITION, SWEEP_AGAIN_MS)
        failed: list[str] = []
        for child_id in due:
            spec_json = await self.tasks.spec(child_id)
            if spec_json is None:
                continue
            parent_ids = list(TaskSpec.decode(spec_json).depends_on)
            statuses = await self.store.statuses(parent_ids)
            ends = [
                ParentEnd(child_id, parent_id, status)
                for parent_id, status in zip(parent_ids, statuses, strict=True)
                if status == "" or has_ended(status)
            ]
            failed += await self._count(ends, now)
            if len(ends) == len(parent_ids) and child_id not in failed:
                await self._release([child_id], now)  # a release that never came, or a no-op
        return failed

    async def _count(self, ends: Sequence[ParentEnd], now: float) -> list[str]:
        if not ends:
            return []
        replies = list(zip(ends, await self.store.parents_ended(ends, now), strict=True))
        ready = dict.fromkeys(e.child_id for e, reply in replies if reply == "ready")
        await self._release(list(ready), now)
        return [e.child_id for e, reply in replies if reply == "upstream_failed"]

    async def _release(self, child_ids: list[str], now: float) -> None:
        """Queue children whose parents ended, their parents' results taken in where they
        ask for them, and wake their pools: a few round trips for any number of them."""
        if not child_ids:
            return
        rows = await self.tasks.get_many(child_ids, [TaskField.SPEC])
        specs = [TaskSpec.decode(spec_json) for (spec_json,) in rows if spec_json is not None]
        results = await self._results_for(specs)
        releases = [(spec.task_id, _with_inputs(spec, results)) for spec in specs]
        queued = await self.store.release(releases, int(now * 1000))
        pools = {s.worker_type.value for s, ok in zip(specs, queued, strict=True) if ok}
        if pools:
            await self.wake(",".join(sorted(pools)))

    async def _results_for(self, specs: Sequence[TaskSpec]) -> dict[str, Any]:
        """The results of the parents of those children that ask for them, by parent id."""
        parent_ids = list(
            dict.fromkeys(p for spec in specs if spec.pass_results_as for p in spec.depends_on)
        )
        if not parent_ids:
            return {}
        results = await self.store.results(parent_ids)
        return {
            parent_id: None if result is None else json.loads(result)
            for parent_id, result in zip(parent_ids, results, strict=True)
        }


def _with_inputs(spec: TaskSpec, results: dict[str, Any]) -> str:
    """The child's spec with {parent name: its result} under its pass_results_as kwarg; ''
    for a child that does not ask for them."""
    if not spec.pass_results_as:
        return ""
    inputs = {name: results.get(parent_id) for parent_id, name in spec.depends_on.items()}
    return replace(spec, kwargs={**spec.kwargs, spec.pass_results_as: inputs}).spec_json()
