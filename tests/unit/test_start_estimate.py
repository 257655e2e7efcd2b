"""When a queued task should start (domain.pool.start_delay_s): the model behind
estimated_start and admission by SLA."""

from __future__ import annotations

import pytest

from vokaflow.domain.pool import start_delay_s


@pytest.mark.parametrize(("ahead", "expected"), [(0, 0.0), (3, 0.0), (4, 0.5), (9, 1.0)])
def test_with_every_slot_free_the_tasks_ahead_fill_the_pool_in_rounds(ahead, expected):
    assert start_delay_s(ahead, 4, 0.5) == expected


def test_a_slot_held_by_a_long_task_holds_the_next_task_back():
    assert start_delay_s(0, 1, 0.001, [10.0]) == 10.0
    assert start_delay_s(2, 1, 0.5, [10.0]) == 11.0  # after it, two rounds of the tasks ahead


def test_a_free_slot_is_taken_before_a_busy_one_frees():
    assert start_delay_s(0, 2, 0.5, [10.0]) == 0.0
    assert start_delay_s(1, 2, 0.5, [10.0]) == 10.0
    assert start_delay_s(2, 2, 0.5, [10.0]) == 0.5


def test_busy_slots_free_soonest_first_and_one_due_already_is_free():
    assert start_delay_s(0, 2, 1.0, [7.0, -3.0]) == 0.0
    assert start_delay_s(1, 2, 1.0, [7.0, 2.0]) == 7.0
    assert start_delay_s(0, 2, 1.0, [7.0, 2.0]) == 2.0


def test_more_busy_slots_than_capacity_count_the_soonest():
    assert start_delay_s(0, 1, 1.0, [9.0, 4.0]) == 4.0
