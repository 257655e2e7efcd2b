"""Dispatch order, as pure functions over what the queues' heads hold."""

from __future__ import annotations

from collections import defaultdict

from vokaflow.schemas import WorkerType
from vokaflow.store.task_store import Candidate, ClaimRequest


def best_candidates(candidates: list[Candidate], free_slots: int) -> list[Candidate]:
    """The ``free_slots`` tasks to run next: lowest score first (priority level, then age)."""
    if free_slots <= 0:
        return []
    return sorted(candidates, key=lambda c: (c.score, c.task_id))[:free_slots]


def plan_claims(
    worker_type: WorkerType, candidates: list[Candidate], free_slots: int
) -> list[ClaimRequest]:
    """One claim per partition: take as many as were chosen there, up to the worst chosen score.

    A task that arrived after the peek with a better score is taken in place of a chosen one,
    which keeps the order strict.
    """
    chosen = best_candidates(candidates, free_slots)
    by_partition: dict[int, list[Candidate]] = defaultdict(list)
    for candidate in chosen:
        by_partition[candidate.partition].append(candidate)
    return [
        ClaimRequest(
            worker_type=worker_type,
            partition=partition,
            max_score=max(c.score for c in members),
            count=len(members),
        )
        for partition, members in sorted(by_partition.items())
    ]


def pool_capacity(
    max_workers: dict[WorkerType, int], cluster_slots: dict[WorkerType, int]
) -> dict[WorkerType, int]:
    """A pool runs at most its configured max_workers, and never more than the cluster has."""
    return {wt: max(0, min(max_workers[wt], cluster_slots.get(wt, 0))) for wt in WorkerType}
