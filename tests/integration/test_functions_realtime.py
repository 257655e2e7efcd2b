"""publish_event through the real API: into a Redis stream that XRANGE reads back, and on a
channel to a live subscriber; names that are not slugs are 400."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.integration.helpers import submit, wait_until
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect_sync


def _completed(api: Any, **kwargs: Any) -> dict[str, Any]:
    task = submit(api, "publish_event", kwargs=kwargs)
    final = wait_until(api, task["task_id"])
    assert final["status"] == "completed", final
    result: dict[str, Any] = final["result"]
    return result


def _own(stack, kind: str, name: str) -> str:
    """The admin key's own stream or channel (every principal has its own)."""
    return f"{Keys(stack.key_prefix, 16).tenant_space('admin')}:{kind}:{name}"


def test_an_event_lands_in_the_stream_and_xrange_reads_it_back(api, stack):
    client = connect_sync(stack.redis_url, decode_responses=True)
    key = _own(stack, "stream", "orders")
    client.xgroup_create(key, "billing", id="$", mkstream=True)
    result = _completed(api, stream="orders", event={"order": 42, "state": "paid"})
    assert result["stream"] == key
    assert (result["length"], result["groups"]) == (1, 1)
    ((entry_id, fields),) = client.xrange(key)
    assert entry_id == result["id"]
    assert json.loads(fields["event"]) == {"order": 42, "state": "paid"}


def test_maxlen_trims_the_stream_to_that_many_events(api, stack):
    client = connect_sync(stack.redis_url, decode_responses=True)
    key = _own(stack, "stream", "trimmed")
    client.xadd(key, {"event": "{}"})
    for _ in range(150):
        client.xadd(key, {"event": "{}"})
    result = _completed(api, stream="trimmed", event={"n": 1}, maxlen=10)
    assert result["length"] == 10


def test_channel_mode_counts_the_subscribers_that_received_the_event(api, stack):
    channel = _own(stack, "channel", "alerts")
    pubsub = connect_sync(stack.redis_url, decode_responses=True).pubsub()
    pubsub.subscribe(channel)
    try:
        assert pubsub.get_message(timeout=5)["type"] == "subscribe"
        result = _completed(api, stream="alerts", event={"level": "high"}, mode="channel")
        assert result == {"channel": channel, "acks": 1}
        deadline = time.monotonic() + 30
        message = None
        while message is None and time.monotonic() < deadline:
            message = pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
        assert message is not None
        assert json.loads(message["data"]) == {"level": "high"}
    finally:
        pubsub.close()
