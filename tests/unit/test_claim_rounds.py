"""Claims cut into rounds of a bounded number of tasks (dispatch_store.claim_rounds), so
that no one pipeline of claim scripts holds Redis for long."""

from __future__ import annotations

import pytest

from vokaflow.domain import WorkerType
from vokaflow.store.dispatch_store import ClaimRequest, claim_rounds

GP = WorkerType.GENERAL_PURPOSE


def _claim(partition: int, count: int, max_score: float = 5.0) -> ClaimRequest:
    return ClaimRequest(GP, partition, max_score, count)


@pytest.mark.parametrize(
    ("counts", "most", "rounds"),
    [
        ([3, 2], 10, [[(0, 3), (1, 2)]]),  # all in one
        ([600], 256, [[(0, 256)], [(0, 256)], [(0, 88)]]),  # one big claim, in turns
        ([200, 100], 256, [[(0, 200), (1, 56)], [(1, 44)]]),  # the round fills, then on
        ([0, 5], 4, [[(1, 4)], [(1, 1)]]),  # nothing asked of partition 0
    ],
)
def test_claims_are_cut_into_rounds_of_at_most_so_many_tasks_in_order(counts, most, rounds):
    cut = claim_rounds([_claim(p, n) for p, n in enumerate(counts)], most)
    assert [[(c.partition, c.count) for c in claims] for claims in cut] == rounds


def test_a_piece_keeps_its_claim_s_pool_and_priority_bound():
    (first, second) = claim_rounds([_claim(7, 5, max_score=2.5)], 3)
    assert first == [_claim(7, 3, 2.5)] and second == [_claim(7, 2, 2.5)]
