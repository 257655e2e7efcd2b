"""The garbage collector in a process that serves for its whole life (a gateway replica, the
scheduler actor, a pool worker).

What such a process has built by the time it serves (its modules, Ray's, its app or parts)
lives as long as it does. Frozen, the collector's full passes stop walking it: under batch
load those passes cost the scheduler actor about an eighth of its time and paused a console
page ~130 ms every few requests (docs/decisions.md, "The collector in long-lived processes").
"""

from __future__ import annotations

import gc

# The scheduler allocates a few dozen objects per task it claims and settles, nearly all
# freed within a round. At the default 700 allocations a young pass ran several times per
# round and promoted whole rounds to the older generations, whose passes then walked them.
SCHEDULER_YOUNG_THRESHOLD = 20_000

# A flag, not gc.get_freeze_count(): that walks every frozen object (about 100,000 in a
# pool worker, a millisecond or more), and a worker asks once per chunk.
_frozen = False


def freeze_what_lives_on(young_threshold: int | None = None) -> None:
    """Collect once, then move every object alive now out of the collector's reach. Once per
    process: later calls do nothing. ``young_threshold`` sets how many allocations start a
    young pass (None keeps Python's)."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()
    if young_threshold is not None:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(young_threshold, older, oldest)
