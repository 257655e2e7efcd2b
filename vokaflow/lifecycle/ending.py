"""One owner for a task's end, whichever path ends it.

A worker's outcome (completed, failed, timeout, worker lost) comes through ``finish``; a
cancel over the API through ``cancel``; a batch's abort or timeout through
``end_batch_tasks``. Each writes the same side effects for every task it ended, and only
for those (an end that lost a race to another is stale and counts nothing):

- the task's log lines and the service log's entry (the function's output lines go
  first, before the outcome is written, so a reader who sees the end finds them; they are
  kept even from a stale outcome, since that run happened),
- the category's outcome counts,
- the Prometheus finished counter (through the ``FinishedMetrics`` port),
- the ``task.*`` event the webhook dispatcher reads,
- the batch's terminal counts, and the batch moved on,
- the task's waiting children told (lifecycle.dependencies); those that end
  ``upstream_failed`` get the same side effects, and their children are told in turn.

Built from stores and ports only, so the scheduler, the batch coordinator and the API
build it alike, with Ray or without.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol, TypeVar

from vokaflow.domain import Priority, TaskField, TaskStatus
from vokaflow.domain.task import ClaimedTask, Outcome, TaskSpec
from vokaflow.lifecycle.dependencies import Dependencies
from vokaflow.lifecycle.task_logs import (
    output_lines,
    settle_entries,
    system_entry,
    termination_entry,
)
from vokaflow.store.batch_store import BatchStore
from vokaflow.store.category_stats import RETRIED, CategoryStats
from vokaflow.store.dependency_store import DependencyStore
from vokaflow.store.dispatch_store import DispatchStore, Retry, Settled
from vokaflow.store.errors import StoreUnavailable, retry_while_unavailable
from vokaflow.store.events import Event, EventLog
from vokaflow.store.logs import Entry, LogStore
from vokaflow.store.task_store import TaskStore, Termination

log = logging.getLogger("vokaflow.lifecycle")
T = TypeVar("T")

CANCELLED_OVER_THE_API = "cancelled over the API"
_RECORD_FIELDS = (TaskField.SPEC, TaskField.SCORE, TaskField.ATTEMPTS, TaskField.BATCH_ID)


class FinishedMetrics(Protocol):
    """The Prometheus finished counter: (category, priority, status) per ended task."""

    def count_finished(self, finished: Iterable[tuple[str, str, str]]) -> None: ...


class NoMetrics:
    """Where nothing scrapes the process."""

    def count_finished(self, finished: Iterable[tuple[str, str, str]]) -> None:
        pass


@dataclass(frozen=True)
class Ended:
    """A task this owner ended, with what its side effects need."""

    task_id: str
    owner: str
    category: str
    priority: Priority
    function_name: str
    batch_id: str
    status: TaskStatus
    at: float
    execution_time: float = 0.0
    attempt: int | None = None

    @classmethod
    def of_outcome(cls, task: ClaimedTask, outcome: Outcome) -> Ended:
        return cls(
            task_id=task.task_id,
            owner=task.spec.owner,
            category=task.spec.category,
            priority=task.spec.priority,
            function_name=task.spec.function_name,
            batch_id=task.spec.batch_id,
            status=outcome.status,
            at=outcome.completed_at,
            execution_time=outcome.execution_time,
            attempt=outcome.attempt,
        )


@dataclass(frozen=True)
class _Written:
    """What one end writes to the logs and category counts, in one round trip."""

    task_lines: dict[str, list[Entry]]
    system: list[Entry]
    counted: list[tuple[str, str, str, float]]  # category, owner, status or retried, seconds


class TaskEnding:
    def __init__(
        self,
        *,
        dispatch: DispatchStore,
        tasks: TaskStore,
        batches: BatchStore,
        logs: LogStore,
        category_stats: CategoryStats,
        events: EventLog,
        metrics: FinishedMetrics,
        advance_batch: Callable[[str], Awaitable[None]] | None = None,
        dependencies: Dependencies | None = None,
    ) -> None:
        """``advance_batch`` moves a batch on after its counts changed: the scheduler's
        coordinator in the scheduler; elsewhere a message that asks the scheduler to."""
        self.dispatch = dispatch
        self.tasks = tasks
        self.batches = batches
        self.logs = logs
        self.category_stats = category_stats
        self.events = events
        self.metrics = metrics
        self.advance_batch = advance_batch or batches.notify
        self.dependencies = dependencies or Dependencies(
            DependencyStore(tasks.redis, tasks.keys, tasks.retention_ms), tasks
        )

    # ------------------------------------------------------------ entries

    async def finish(
        self, tasks: Sequence[ClaimedTask], final: Sequence[Outcome], retries: Sequence[Retry]
    ) -> Settled:
        """Write what the functions printed, then the worker's outcomes (final ones and
        scheduled retries), then the side effects of what was current. A retry is logged
        and counted as ``retried``, not as an end. Waits out a Redis outage: an outcome
        must not be dropped."""
        await self._write_output(final, retries)
        settled = await retry_while_unavailable(lambda: self.dispatch.settle(final, retries))
        by_id = {task.task_id: task for task in tasks}
        ended = [Ended.of_outcome(by_id[o.task_id], o) for o in settled.final]
        task_lines, system = settle_entries(tasks, settled.final, settled.retries)
        counted = [_counted(e) for e in ended]
        counted += [_counted_retry(by_id[r.outcome.task_id], r) for r in settled.retries]
        written = _Written(task_lines, system, counted)
        await retry_while_unavailable(lambda: self._write(written))
        await self._announce(ended, retry_while_unavailable, advance=True)
        parents = [(e.task_id, e.status) for e in ended if e.task_id in settled.with_children]
        await self._tell_children(parents, retry_while_unavailable)
        return settled

    async def children_written(self, children: Sequence[TaskSpec], now: float) -> None:
        """After waiting children are written: registered with their parents, and counted
        at once for parents that had already ended."""
        waiting = [child for child in children if child.depends_on]
        if waiting:
            await self.upstream_failed(await self.dependencies.attach(waiting, now), now)

    async def sweep_dependencies(self, now: float) -> None:
        """lifecycle.dependencies' sweep, with the side effects of the children it ended."""
        await self.upstream_failed(await self.dependencies.sweep(now), now)

    async def upstream_failed(self, task_ids: Sequence[str], now: float) -> None:
        """The side effects of children that ended upstream_failed (dep_done.lua ended
        them), and their own children told, generation after generation."""
        ended = await self._upstream_failed_ends(task_ids, retry_while_unavailable, now)
        await self._tell_children(ended, retry_while_unavailable)

    async def _upstream_failed_ends(
        self, task_ids: Sequence[str], persist: _Persist, now: float
    ) -> list[tuple[str, TaskStatus]]:
        if not task_ids:
            return []
        status = TaskStatus.UPSTREAM_FAILED
        ended = await persist(lambda: self._read_ended(task_ids, status, now))
        written = _termination_written(ended, "a parent did not complete")
        await persist(lambda: self._write(written))
        await self._announce(ended, persist, advance=True)
        return [(e.task_id, status) for e in ended]

    async def cancel(self, task_id: str, now: float) -> Termination:
        """End a queued or running task as cancelled; a running one's worker is told to
        stop. Only the termination can fail the call: the task is cancelled either way, so
        a Redis failure in the side effects is logged, not raised."""
        termination = await self.tasks.terminate(task_id, TaskStatus.CANCELLED.value, now)
        if termination.outcome == "ended":
            try:
                ended = await self._read_ended([task_id], TaskStatus.CANCELLED, now)
                await self._write(_termination_written(ended, CANCELLED_OVER_THE_API))
                await self._announce(ended, _once, advance=True)
                await self._tell_children([(task_id, TaskStatus.CANCELLED)], _once)
            except StoreUnavailable:
                log.warning("recording the cancel of %s failed", task_id, exc_info=True)
        return termination

    async def cancel_many(self, task_ids: Sequence[str], why: str, now: float) -> int:
        """Cancel those of ``task_ids`` that have not ended (a workflow's cancel), all
        before any child hears of a parent's end: none ends upstream_failed for it."""
        return await self.end_batch_tasks(
            task_ids, TaskStatus.CANCELLED, why, now, error_type="WorkflowCancelled"
        )

    async def end_batch_tasks(
        self,
        task_ids: Sequence[str],
        status: TaskStatus,
        why: str,
        now: float,
        error_type: str = "BatchEnded",
    ) -> int:
        """End those of ``task_ids`` that have not ended as ``status`` (a batch's abort or
        timeout), stop the running ones, and count each in its batch. Does not move the
        batch on: its coordinator closes it. Returns how many ended."""
        error = json.dumps({"type": error_type, "message": why, "traceback": None})
        results = await self.tasks.terminate_many(task_ids, status.value, now, error)
        ended_ids = [task_id for task_id, t in results if t.outcome == "ended"]
        await self.tasks.signal_stop([task_id for task_id, t in results if _was_running(t)])
        if not ended_ids:
            return 0
        ended = await retry_while_unavailable(lambda: self._read_ended(ended_ids, status, now))
        written = _termination_written(ended, f"its batch ended ({why})")
        await retry_while_unavailable(lambda: self._write(written))
        await self._announce(ended, retry_while_unavailable, advance=False)
        await self._tell_children([(e.task_id, status) for e in ended], retry_while_unavailable)
        return len(ended)

    # ------------------------------------------------------------ side effects

    async def _write_output(self, final: Sequence[Outcome], retries: Sequence[Retry]) -> None:
        """Before the status: a reader who sees a task ended finds its output there. Kept
        even from an outcome that turns out stale (its task was cancelled or re-run
        meanwhile): that run happened, and each line names its attempt."""
        lines = output_lines([*final, *(retry.outcome for retry in retries)])
        if lines:
            await retry_while_unavailable(lambda: self.logs.write(lines, []))

    async def _write(self, written: _Written) -> None:
        await self.logs.write(
            written.task_lines,
            written.system,
            also=lambda pipe: self.category_stats.queue_outcomes(pipe, written.counted),
        )

    async def _announce(self, ended: Sequence[Ended], persist: _Persist, *, advance: bool) -> None:
        """The Prometheus count, the webhook events, and the batches' counts."""
        self._count_metrics(ended)
        events = [Event.task_ended(e.status.value, e.owner, e.task_id, e.at) for e in ended]
        await persist(lambda: self.events.emit(events))
        tally = Counter((e.batch_id, e.status) for e in ended if e.batch_id)
        for (batch_id, status), n in tally.items():
            await persist(partial(self.batches.count_terminal, batch_id, status, n))
        if advance:
            for batch_id in {b for b, _ in tally}:
                await persist(partial(self.advance_batch, batch_id))

    async def _tell_children(
        self, parents: Sequence[tuple[str, TaskStatus]], persist: _Persist
    ) -> None:
        """Tell the children of ``parents``; those that end upstream_failed are the next
        generation's parents. A loop, not recursion: a chain is as long as a workflow."""
        now = time.time()
        while parents:
            tell = partial(self.dependencies.parents_ended, parents, now)
            failed = await persist(tell)
            parents = await self._upstream_failed_ends(failed, persist, now)

    def _count_metrics(self, ended: Sequence[Ended]) -> None:
        try:
            self.metrics.count_finished(
                (e.category, e.priority.value, e.status.value) for e in ended
            )
        except Exception:  # metrics must never keep an end from being recorded
            log.warning("recording metrics failed", exc_info=True)

    # ------------------------------------------------------------ reading ended tasks

    async def _read_ended(
        self, task_ids: Sequence[str], status: TaskStatus, now: float
    ) -> list[Ended]:
        rows = await self.tasks.get_many(task_ids, _RECORD_FIELDS)
        ended = []
        for task_id, (spec_json, score, attempts, batch_id) in zip(task_ids, rows, strict=True):
            if spec_json is None or score is None:
                continue  # expired since: nothing left to describe
            spec = TaskSpec.decode(spec_json)
            ended.append(
                Ended(
                    task_id=task_id,
                    owner=spec.owner,
                    category=spec.category,
                    priority=Priority.from_score(float(score)),
                    function_name=spec.function_name,
                    batch_id=batch_id or "",
                    status=status,
                    at=now,
                    attempt=int(attempts or 0) or None,
                )
            )
        return ended


_Persist = Callable[[Callable[[], Awaitable[T]]], Awaitable[T]]


def _counted(ended: Ended) -> tuple[str, str, str, float]:
    return (ended.category, ended.owner, ended.status.value, ended.execution_time)


def _counted_retry(task: ClaimedTask, retry: Retry) -> tuple[str, str, str, float]:
    return (task.spec.category, task.spec.owner, RETRIED, retry.outcome.execution_time)


def _termination_written(ended: Sequence[Ended], why: str) -> _Written:
    task_lines: dict[str, list[Entry]] = {}
    system: list[Entry] = []
    for e in ended:
        entry = termination_entry(e.status, e.at, e.attempt, why)
        task_lines[e.task_id] = [entry]
        system.append(system_entry(e.task_id, e.function_name, e.owner, entry))
    return _Written(task_lines, system, [_counted(e) for e in ended])


def _was_running(termination: Termination) -> bool:
    return termination.outcome == "ended" and termination.previous_status == TaskStatus.RUNNING


async def _once(operation: Callable[[], Awaitable[T]]) -> T:
    return await operation()
