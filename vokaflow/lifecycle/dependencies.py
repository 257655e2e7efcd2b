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

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

from vokaflow.domain import TaskField, TaskStatus
from vokaflow.domain.task import TaskSpec
from vokaflow.store.dependency_store import DependencyStore, ParentEnd, has_ended
from vokaflow.store.task_store import TaskStore

SWEEP_PER_PARTITION = 50
SWEEP_PARENTS_PER_PASS = 10_000
SWEEP_AGAIN_MS = 30_000
SWEEP_AGAIN_AT_MOST_MS = 3_600_000


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
        """Check the parents of the children due for a check, within a budget of parents a
        pass, and count those that ended. Each child checked is checked again later the
        longer it has waited (30 s to an hour): the sweep mends an end that was never told,
        it is not how children normally hear. Returns the children that ended
        upstream_failed."""
        due = await self.store.due_for_a_check(int(now * 1000), SWEEP_PER_PARTITION)
        checked = await self._within_budget(due)
        edges = [(spec.task_id, parent_id) for spec in checked for parent_id in spec.depends_on]
        rows = await self.tasks.get_many([parent_id for _, parent_id in edges], [TaskField.STATUS])
        statuses = [status or "" for (status,) in rows]
        await self.store.check_later({spec.task_id: _next_check_ms(spec, now) for spec in checked})
        ends = [
            ParentEnd(child_id, parent_id, status)
            for (child_id, parent_id), status in zip(edges, statuses, strict=True)
            if status == "" or has_ended(status)
        ]
        failed = await self._count(ends, now)
        ended = Counter(end.child_id for end in ends)
        stuck = [  # every parent ended, yet it waits: a release that never came
            spec.task_id
            for spec in checked
            if ended[spec.task_id] == len(spec.depends_on) and spec.task_id not in failed
        ]
        await self._release(stuck, now)
        return failed

    async def _within_budget(self, child_ids: list[str]) -> list[TaskSpec]:
        rows = await self.tasks.get_many(child_ids, [TaskField.SPEC])
        chosen: list[TaskSpec] = []
        parents = 0
        for (spec_json,) in rows:
            if spec_json is None:
                continue
            spec = TaskSpec.decode(spec_json)
            if chosen and parents + len(spec.depends_on) > SWEEP_PARENTS_PER_PASS:
                break  # the rest stay due: the next pass takes them
            chosen.append(spec)
            parents += len(spec.depends_on)
        return chosen

    async def _count(self, ends: Sequence[ParentEnd], now: float) -> list[str]:
        if not ends:
            return []
        replies = list(zip(ends, await self.store.parents_ended(ends, now), strict=True))
        ready = dict.fromkeys(e.child_id for e, reply in replies if reply == "ready")
        await self._release(list(ready), now)
        return [e.child_id for e, reply in replies if reply == "upstream_failed"]

    async def _release(self, child_ids: list[str], now: float) -> None:
        """Queue children whose parents ended and wake their pools, in a few round trips
        for any number of them. Their parents' results are read when each is dispatched
        (scheduler.dispatcher), not copied into each child."""
        if not child_ids:
            return
        queued = await self.store.release(child_ids, int(now * 1000))
        released = [child_id for child_id, ok in zip(child_ids, queued, strict=True) if ok]
        if not released:
            return
        rows = await self.tasks.get_many(released, [TaskField.WORKER_TYPE])
        pools = sorted({str(pool) for (pool,) in rows if pool})
        await self.wake(",".join(pools) or "*")


def _next_check_ms(spec: TaskSpec, now: float) -> int:
    """Half its wait so far from now, within 30 s and an hour."""
    waited_ms = (now - spec.created_at) * 1000
    return int(now * 1000 + min(max(SWEEP_AGAIN_MS, waited_ms / 2), SWEEP_AGAIN_AT_MOST_MS))
