"""Findings 5 and 10 and two low ones, on webhooks.

- `send_webhook` signed every tenant's POST with the one shared secret, so tenant A's task
  could make a body that tenant B's receiver accepts as B's own.
- A URL with a control character passed configure, then failed to parse at every delivery,
  outside the attempt's error handling: /test answered 500 and the dispatcher retried the
  entry for ever, so a few such tenants stopped delivery for all.
- A refused delivery named the internal address that a host name resolved to.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.integration.helpers import submit, wait_until
from tests.integration.test_webhooks import SECRET, Receiver
from tests.security.attacks import refused_field, run_task
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect_sync
from vokaflow.webhooks.signing import verify_signature


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    threading.Thread(target=server.server.serve_forever, daemon=True).start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_a_tenant_s_send_webhook_never_verifies_as_another_tenant_s(stack, tenant, receiver):
    alice, bob = tenant(), tenant()
    path = f"/bob-{uuid.uuid4().hex[:6]}"
    done = run_task(alice, "send_webhook", kwargs={"url": receiver.url(path), "payload": {}})
    assert done["status"] == "completed", done
    headers, body = receiver.wait_for(path, lambda _: True, timeout_s=30)
    timestamp, signature = headers["X-VokaFlow-Timestamp"], headers["X-VokaFlow-Signature"]
    bob_secret = bob.get("/api/webhooks/notify-secret").json()["secret"]
    alice_secret = alice.get("/api/webhooks/notify-secret").json()["secret"]
    assert alice_secret != bob_secret
    assert not verify_signature(body, timestamp, signature, bob_secret)
    assert verify_signature(body, timestamp, signature, alice_secret)
    assert (
        json.loads(body)["principal"]
        == alice.get("/api/webhooks/notify-secret").json()["principal"]
    )


@pytest.mark.parametrize("url", ["http://127.0.0.1/x\x00", "http://127.0.0.1/x\x7f"])
def test_a_url_that_cannot_be_delivered_to_is_refused_at_configure(stack, tenant, url):
    body = {"url": url, "events": ["task.completed"], "secret": SECRET}
    assert refused_field(tenant().post("/api/webhooks/configure", json=body)) == "url"


def _plant_webhook(stack, owner: str, url: str) -> str:
    """A webhook as an older version accepted it: its URL fails to parse at delivery."""
    keys = Keys(stack.key_prefix, 16)
    redis = connect_sync(stack.redis_url, decode_responses=True)
    webhook_id = f"wh_{uuid.uuid4().hex}"
    record = {
        "url": url,
        "events": json.dumps(["task.completed"]),
        "secret": SECRET,
        "owner": owner,
        "created_at": repr(time.time()),
    }
    redis.hset(keys.webhook(webhook_id), mapping=record)
    redis.sadd(keys.owner_webhooks(owner), webhook_id)
    redis.sadd(keys.webhook_index, webhook_id)
    redis.sadd(keys.webhook_owners, owner)
    redis.publish(keys.webhooks_channel, owner)
    return webhook_id


def test_broken_webhooks_of_many_tenants_stop_no_one_else_s_delivery(stack, tenant, receiver):
    broken = []
    for n in range(10):
        name = f"broken-{n}-{uuid.uuid4().hex[:6]}"
        client = tenant(name)
        webhook_id = _plant_webhook(stack, name, "http://127.0.0.1/x\x00")
        ping = client.post(f"/api/webhooks/{webhook_id}/test")
        assert ping.status_code == 200, ping.text
        assert ping.json()["outcome"] == "failed" and ping.json()["error"]
        broken.append(client)
    time.sleep(1.5)  # emitters read the webhook owners again
    for client in broken:
        for _ in range(4):
            submit(client, "noop")
    healthy = tenant()
    path = f"/healthy-{uuid.uuid4().hex[:6]}"
    configured = healthy.post(
        "/api/webhooks/configure",
        json={"url": receiver.url(path), "events": ["task.completed"], "secret": SECRET},
    )
    assert configured.status_code == 201, configured.text
    time.sleep(1.5)
    task = submit(healthy, "noop")
    wait_until(healthy, task["task_id"])
    receiver.wait_for(path, lambda body: body["data"]["task_id"] == task["task_id"], 60)


def test_a_refused_delivery_does_not_name_the_internal_address(stack, tenant):
    # 167772161 is 10.0.0.1 as one number: only the resolver makes it an address
    done = run_task(tenant(), "send_webhook", kwargs={"url": "http://167772161/x", "payload": {}})
    assert done["status"] == "failed"
    assert "private address" in done["error"]["message"]
    assert "10.0.0.1" not in json.dumps(done["error"])
