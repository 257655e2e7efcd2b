"""A principal's live log streams in one gateway process are bounded; each that ends gives
its slot back, and one principal's streams do not count against another's."""

from __future__ import annotations

import pytest

from vokaflow.api.console.streams import RETRY_AFTER_S, StreamSlots
from vokaflow.errors import RateLimited


def test_past_its_open_streams_a_principal_gets_429_with_retry_after():
    slots = StreamSlots(most=2)
    slots.take("ann")
    slots.take("ann")
    with pytest.raises(RateLimited) as refused:
        slots.take("ann")
    assert refused.value.status_code == 429
    assert refused.value.details["retry_after"] == RETRY_AFTER_S
    slots.take("bob")  # another principal's are its own


def test_a_stream_that_ends_gives_its_slot_back_and_leaves_no_entry():
    slots = StreamSlots(most=1)
    slots.take("ann")
    slots.give_back("ann")
    slots.take("ann")
    slots.give_back("ann")
    assert slots.open == {}
