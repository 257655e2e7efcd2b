"""The scheduler's Ray adapter: a chunk's remote call read as the executor port promises."""

from __future__ import annotations

import pytest
from ray.exceptions import WorkerCrashedError

from tests.scheduler_fakes import claimed, outcome
from vokaflow.scheduler.ports import WorkerLost
from vokaflow.scheduler.ray_adapters import RayChunk


class _Ref:
    """Stands in for an ObjectRef: awaiting it gives the value or raises the error."""

    def __init__(self, value=None, error=None):
        self.value, self.error = value, error

    def __await__(self):
        if self.error is not None:
            raise self.error
        return self.value
        yield  # a generator, as __await__ must be


async def test_a_chunk_s_outcomes_come_back_as_the_remote_call_returned_them():
    outcomes = [outcome(claimed())]
    assert await RayChunk(_Ref(value=outcomes)) == outcomes


async def test_a_ray_error_under_a_chunk_is_a_lost_worker():
    with pytest.raises(WorkerLost) as lost:
        await RayChunk(_Ref(error=WorkerCrashedError()))
    assert lost.value.describe().startswith("WorkerCrashedError: ")
    assert isinstance(lost.value.cause, WorkerCrashedError)


async def test_any_other_error_is_not_mistaken_for_a_lost_worker():
    with pytest.raises(ZeroDivisionError):
        await RayChunk(_Ref(error=ZeroDivisionError()))
