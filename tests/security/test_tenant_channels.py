"""Finding 2: `publish_event` and `broadcast_notification` write only into the calling
key's own namespace, never into the service's keys (the webhook dispatcher's stream, the
scheduler's channels) or another tenant's, and a key's streams are bounded."""

from __future__ import annotations

import json
import time

import httpx

from tests.security.attacks import post_task, refused_field, run_task
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect_sync


def _published(client: httpx.Client, **kwargs) -> dict:
    done = run_task(client, "publish_event", kwargs=kwargs, timeout_s=60)
    assert done["status"] == "completed", done
    return done["result"]


def test_a_stream_named_like_the_webhook_stream_is_the_tenant_s_own(stack, tenant):
    attacker = tenant()
    redis = connect_sync(stack.redis_url, decode_responses=True)
    internal = Keys(stack.key_prefix, 16).event_stream
    result = _published(attacker, stream="stream", event={"x": 1}, maxlen=1)
    assert result["stream"] != internal
    assert result["stream"].startswith(f"{stack.key_prefix}:{{t:")
    assert redis.xlen(result["stream"]) == 1
    assert redis.pttl(result["stream"]) > 0, "a tenant's stream expires"


def test_a_channel_named_like_the_scheduler_s_reaches_no_internal_subscriber(stack, tenant):
    attacker = tenant()
    keys = Keys(stack.key_prefix, 16)
    pubsub = connect_sync(stack.redis_url, decode_responses=True).pubsub()
    pubsub.subscribe(keys.wakeup_channel, keys.cancel_channel)
    try:
        for channel in ("wakeup", "cancel"):
            result = _published(
                attacker, stream=channel, event={"marker": "attack"}, mode="channel"
            )
            assert result["channel"] not in (keys.wakeup_channel, keys.cancel_channel)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            assert message is None or "attack" not in str(message["data"]), message
    finally:
        pubsub.close()


def test_two_tenants_publishing_the_same_name_write_two_streams(stack, tenant):
    first = _published(tenant(), stream="orders", event={"who": "a"})
    second = _published(tenant(), stream="orders", event={"who": "b"})
    assert first["stream"] != second["stream"]
    redis = connect_sync(stack.redis_url, decode_responses=True)
    ((_, fields),) = redis.xrange(second["stream"])
    assert json.loads(fields["event"]) == {"who": "b"}


def test_a_notification_audience_is_the_tenant_s_own_channel(stack, tenant):
    done = run_task(tenant(), "broadcast_notification", kwargs={"audience": "ops", "message": "m"})
    assert done["status"] == "completed", done
    assert done["result"]["channel"].startswith(f"{stack.key_prefix}:{{t:")


def test_a_tenant_keeps_a_bounded_number_of_streams(stack, tenant):
    attacker = tenant()
    for n in range(16):  # VOKAFLOW_TENANT_STREAMS_MAX in the test stack
        _published(attacker, stream=f"s{n}", event={"n": n})
    refused = run_task(attacker, "publish_event", kwargs={"stream": "s16", "event": {}})
    assert refused["status"] == "failed"
    assert "VOKAFLOW_TENANT_STREAMS_MAX" in json.dumps(refused["error"])
    assert _published(attacker, stream="s3", event={"n": 3})["length"] == 2


def test_an_event_is_bounded_in_size(stack, tenant):
    reply = post_task(
        tenant(), "publish_event", kwargs={"stream": "s", "event": {"x": "y" * 20_000}}
    )
    assert refused_field(reply) == "kwargs.event"


def test_a_stream_keeps_at_most_its_events_and_bytes_whatever_maxlen_asks(stack):
    """On the real Redis, with small limits: the oldest events go first."""
    from vokaflow.store.tenant_channels import StreamLimits, TenantChannels

    redis = connect_sync(stack.redis_url, decode_responses=True)
    keys = Keys(stack.key_prefix, 16)
    limits = StreamLimits(max_streams=2, max_length=100, max_bytes=20_000, ttl_s=60)
    channels = TenantChannels(redis, keys, "length-check", limits)
    for n in range(300):
        appended = channels.append("many", json.dumps({"n": n}), max_length=1_000_000)
    assert appended.length == 100
    ((_, fields),) = redis.xrange(appended.stream, count=1)
    assert json.loads(fields["event"]) == {"n": 200}, "the oldest went first"
    for n in range(50):
        appended = channels.append("big", json.dumps({"pad": "x" * 1000, "n": n}), 1_000_000)
    kept = redis.xrange(appended.stream)
    assert (
        sum(len(f["event"]) for _, f in kept)
        <= 20_000
        < sum(len(f["event"]) for _, f in kept) + 1100
    )
