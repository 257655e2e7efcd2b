from __future__ import annotations

import pytest

from vokaflow.domain import Priority, WorkerType
from vokaflow.domain.priority import level_of_score, queue_score
from vokaflow.store.keys import Keys, partition_of


@pytest.mark.parametrize(
    ("task_id", "partitions", "partition"),
    [
        ("550e8400-e29b-41d4-a716-446655440000", 16, 1),
        ("550e8400-e29b-41d4-a716-446655440000", 64, 49),
        ("task-1", 16, 15),
        ("abc", 16, 2),
    ],
)
def test_a_task_partition_is_the_one_every_earlier_version_computed(task_id, partitions, partition):
    """Pinned values: a task stored by an older version, or by a process with another hash
    seed, must be found in the same partition."""
    assert partition_of(task_id, partitions) == partition


def test_task_partitions_cover_every_partition():
    assert {partition_of(f"task-{i}", 16) for i in range(2000)} == set(range(16))


def test_a_partitions_keys_share_one_hash_tag_under_the_prefix():
    keys = Keys("vf", 16)
    task_id = "abc"
    partition = keys.partition(task_id)
    tag = f"{{p{partition}}}"
    assert keys.task(task_id).startswith("vf:") and tag in keys.task(task_id)
    assert tag in keys.queue(partition, WorkerType.IO_INTENSIVE)
    assert tag in keys.running(partition)


def test_a_higher_priority_scores_lower_however_old_the_other_task_is():
    old_batch = queue_score(Priority.BATCH, enqueued_at_s=1_000.0)
    new_emergency = queue_score(Priority.EMERGENCY, enqueued_at_s=2_000_000_000.0)
    assert new_emergency < old_batch


def test_within_a_priority_the_older_task_scores_lower():
    assert queue_score(Priority.NORMAL, 10.0) < queue_score(Priority.NORMAL, 10.5)


def test_the_level_can_be_read_back_from_a_score():
    for priority in Priority:
        assert level_of_score(queue_score(priority, 1_790_000_000.123)) == priority.level


def test_the_task_indexes_are_in_their_partition_s_slot_and_name_no_raw_user_string():
    keys = Keys("vf", 16)
    owner = "ann:{p3}:x"
    index_keys = [
        keys.index_ledger(3),
        keys.index_owner(3, owner),
        keys.index_live(3, owner),
        keys.index_live(3, None),
        keys.index_status(3, "failed", owner),
        keys.index_status(3, "failed", None),
    ]
    assert all(k.startswith("vf:{p3}:ix:") and k.count("{") == 1 for k in index_keys)
    assert len(set(index_keys)) == len(index_keys)
    assert keys.index_owner(3, "bob") != keys.index_owner(3, owner)
