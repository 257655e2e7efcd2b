from __future__ import annotations

from vokaflow.scheduler.policy import best_candidates, plan_claims, pool_capacity
from vokaflow.schemas import Priority, WorkerType
from vokaflow.store.records import queue_score
from vokaflow.store.task_store import Candidate


def _candidate(priority: Priority, age_s: float, partition: int, task_id: str) -> Candidate:
    return Candidate(queue_score(priority, 1_000_000.0 + age_s), partition, task_id)


def test_the_best_candidates_across_partitions_are_taken_in_priority_order():
    candidates = [
        _candidate(Priority.BATCH, 0, 0, "batch"),
        _candidate(Priority.EMERGENCY, 9, 3, "emergency"),
        _candidate(Priority.NORMAL, 1, 3, "normal"),
        _candidate(Priority.CRITICAL, 5, 7, "critical"),
    ]
    chosen = best_candidates(candidates, 3)
    assert [c.task_id for c in chosen] == ["emergency", "critical", "normal"]


def test_no_free_slots_means_nothing_is_chosen():
    assert best_candidates([_candidate(Priority.HIGH, 0, 0, "a")], 0) == []


def test_claims_are_grouped_per_partition_up_to_the_worst_chosen_score():
    candidates = [
        _candidate(Priority.HIGH, 0, 1, "a"),
        _candidate(Priority.HIGH, 1, 1, "b"),
        _candidate(Priority.LOW, 0, 1, "c"),
        _candidate(Priority.HIGH, 2, 2, "d"),
    ]
    claims = plan_claims(WorkerType.IO_INTENSIVE, candidates, 3)
    assert [(c.partition, c.count) for c in claims] == [(1, 2), (2, 1)]
    assert claims[0].max_score == queue_score(Priority.HIGH, 1_000_001.0)


def test_pool_capacity_is_the_smaller_of_the_configured_max_and_the_cluster_slots():
    configured = {wt: 64 for wt in WorkerType}
    capacity = pool_capacity(
        configured, {WorkerType.IO_INTENSIVE: 8, WorkerType.CPU_INTENSIVE: 100}
    )
    assert capacity[WorkerType.IO_INTENSIVE] == 8
    assert capacity[WorkerType.CPU_INTENSIVE] == 64
    assert capacity[WorkerType.GENERAL_PURPOSE] == 0
