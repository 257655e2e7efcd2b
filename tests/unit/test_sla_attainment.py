"""SLA attainment: first starts per minute and priority, and the share within the SLA."""

from __future__ import annotations

from vokaflow.domain import Priority
from vokaflow.domain.sla import SlaTally, attainment


def test_a_start_past_its_sla_counts_as_late_in_its_minute():
    tally = SlaTally()
    tally.count(
        [(Priority.EMERGENCY, 0.05), (Priority.EMERGENCY, 0.2), (Priority.LOW, 31.0)], 120.5
    )
    tally.count([(Priority.EMERGENCY, 0.01)], 180.0)
    assert tally.take() == {
        2: {"EMERGENCY:started": 2, "EMERGENCY:late": 1, "LOW:started": 1, "LOW:late": 1},
        3: {"EMERGENCY:started": 1},
    }
    assert tally.take() == {}, "taken once"


def test_a_tally_given_back_is_taken_again_with_what_came_since():
    tally = SlaTally()
    tally.count([(Priority.HIGH, 0.1)], 60.0)
    failed_write = tally.take()
    tally.count([(Priority.HIGH, 5.0)], 61.0)
    tally.give_back(failed_write)
    assert tally.take() == {1: {"HIGH:started": 2, "HIGH:late": 1}}


def test_attainment_adds_the_minutes_and_shares_per_priority():
    minutes = [{"HIGH:started": "3", "HIGH:late": "1"}, {"HIGH:started": "1"}, {}]
    found = attainment(minutes)
    assert (found[Priority.HIGH].started, found[Priority.HIGH].late) == (4, 1)
    assert found[Priority.HIGH].share == 0.75
    assert found[Priority.LOW].share is None, "no starts: no share, not 100%"
