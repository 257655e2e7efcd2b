"""The collector in a long-lived process: what lives when it starts serving is frozen once,
and the scheduler's young passes run less often. Each case runs in a child process, so that
this test process keeps its own collector settings."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json
from vokaflow.long_lived import freeze_what_lives_on
kept = [[i] for i in range(1000)]  # alive before the freeze
before = gc.get_threshold()
freeze_what_lives_on({threshold})
first = {{"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()}}
walks = (gc.get_freeze_count, gc.get_objects, gc.collect)
def walked(*args):
    raise AssertionError("a later call walks the heap")
gc.get_freeze_count = gc.get_objects = gc.collect = walked
freeze_what_lives_on(5)  # a pool worker calls it once per chunk: it must cost nothing
gc.get_freeze_count, gc.get_objects, gc.collect = walks
cycle = []
cycle.append(cycle)  # garbage made after the freeze stays collectable
del cycle
print(json.dumps({{"before": before, "first": first, "second": gc.get_threshold(),
                  "frozen_after": gc.get_freeze_count(), "collected": gc.collect()}}))
"""


def _probe(threshold: int | None) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(threshold=threshold)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def test_what_lives_at_the_freeze_is_out_of_the_collector_s_reach_and_later_garbage_is_not():
    seen = _probe(None)
    assert seen["first"]["frozen"] >= 1000
    assert seen["first"]["threshold"] == seen["before"]  # None keeps Python's thresholds
    assert seen["collected"] >= 1


def test_a_young_threshold_moves_only_the_young_generation_s_and_a_second_call_does_nothing():
    # nothing: neither the thresholds nor a walk of the heap (the probe fails on one)
    seen = _probe(20_000)
    before = seen["before"]
    assert seen["first"]["threshold"] == [20_000, before[1], before[2]]
    assert seen["second"] == seen["first"]["threshold"]
    assert seen["frozen_after"] == seen["first"]["frozen"]
