"""A task's end as the scheduler writes it today: the store write, then the task's log
lines, its category's counts, the finished counter, its events and its batch's counts.
One call, ``finish``, so that one owner of every task's end can take its place."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import partial

from vokaflow.domain.task import Outcome
from vokaflow.scheduler.batches import BatchCoordinator
from vokaflow.scheduler.ports import Clock, Metrics
from vokaflow.scheduler.retrying import until_stored
from vokaflow.scheduler.task_logs import settle_entries
from vokaflow.scheduler.telemetry import telemetry_guard
from vokaflow.store.category_stats import RETRIED, CategoryStats
from vokaflow.store.dispatch_store import ClaimedTask, DispatchStore, Retry, Settled
from vokaflow.store.events import Event, EventLog
from vokaflow.store.logs import LogStore


class StoreEnding:
    def __init__(
        self,
        dispatch: DispatchStore,
        logs: LogStore,
        category_stats: CategoryStats,
        events: EventLog,
        batches: BatchCoordinator,
        metrics: Metrics,
        clock: Clock,
    ) -> None:
        self.dispatch = dispatch
        self.logs = logs
        self.category_stats = category_stats
        self.events = events
        self.batches = batches
        self.metrics = metrics
        self.clock = clock

    async def finish(
        self, tasks: Sequence[ClaimedTask], final: list[Outcome], retries: list[Retry]
    ) -> Settled:
        settled = await until_stored(lambda: self.dispatch.settle(final, retries), self.clock)
        await until_stored(partial(self._record, tasks, settled), self.clock)
        by_id = {task.task_id: task for task in tasks}
        with telemetry_guard():
            self.metrics.count_finished(
                (by_id[o.task_id].category, by_id[o.task_id].priority.value, o.status.value)
                for o in settled.final
            )
        await self._announce(tasks, settled.final)
        await self._count_in_batches(tasks, settled.final)
        return settled

    async def _record(self, tasks: Sequence[ClaimedTask], settled: Settled) -> None:
        """Log lines and per-category counts of what was written, in one round trip."""
        task_lines, system = settle_entries(tasks, settled.final, settled.retries)
        by_id = {task.task_id: task for task in tasks}
        counted = [(o.status.value, o) for o in settled.final]
        counted += [(RETRIED, r.outcome) for r in settled.retries]
        outcomes = [
            (by_id[o.task_id].category, by_id[o.task_id].owner, status, o.execution_time)
            for status, o in counted
        ]
        await self.logs.write(
            task_lines, system, also=partial(self.category_stats.queue_outcomes, outcomes=outcomes)
        )

    async def _announce(self, tasks: Sequence[ClaimedTask], current: list[Outcome]) -> None:
        owner_of = {t.task_id: t.owner for t in tasks}
        events = [
            Event.task_ended(o.status, owner_of.get(o.task_id, ""), o.task_id, o.completed_at)
            for o in current
        ]
        await until_stored(partial(self.events.emit, events), self.clock)

    async def _count_in_batches(self, tasks: Sequence[ClaimedTask], current: list[Outcome]) -> None:
        batch_of = {t.task_id: t.batch_id for t in tasks if t.batch_id}
        tally = Counter((batch_of[o.task_id], o.status) for o in current if o.task_id in batch_of)
        for (batch_id, status), n in tally.items():
            await until_stored(
                partial(self.batches.batches.count_terminal, batch_id, status, n), self.clock
            )
        for batch_id in {b for b, _ in tally}:
            await until_stored(partial(self.batches.advance, batch_id), self.clock)
