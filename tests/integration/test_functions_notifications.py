"""The notifications functions through the real API: an e-mail to a local SMTP server, a
signed webhook to a local receiver, a broadcast to a Redis subscriber; bad input is 400."""

from __future__ import annotations

import email
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.conftest import NOTIFY_WEBHOOK_SECRET, SMTP_PORT
from tests.integration.helpers import submit, wait_until
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import connect_sync
from vokaflow.webhooks.signing import principal_secret, unsigned_bytes, verify_signature

SUBMIT = "/api/high-scale-tasks/submit"


def _completed(api: Any, function_name: str, **kwargs: Any) -> dict[str, Any]:
    task = submit(api, function_name, kwargs=kwargs)
    final = wait_until(api, task["task_id"])
    assert final["status"] == "completed", final
    result: dict[str, Any] = final["result"]
    return result


class Mailbox:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


def test_send_email_delivers_to_the_smtp_server_with_subject_body_and_recipients(api, mailbox):
    result = _completed(
        api,
        "send_email",
        to=["ann@example.com", "bob@example.com"],
        subject="Nightly report",
        body="All 12 jobs finished.",
        bcc=["audit@example.com"],
    )
    recipients = ["ann@example.com", "bob@example.com", "audit@example.com"]
    assert result["accepted"] == recipients
    assert result["refused"] == {}
    envelope = next(e for e in mailbox.envelopes if e.rcpt_tos == recipients)
    received = email.message_from_bytes(envelope.original_content or b"")
    assert received["Subject"] == "Nightly report"
    assert received["To"] == "ann@example.com, bob@example.com"
    assert received["Bcc"] is None
    assert received["Message-ID"] == result["message_id"]
    assert received.get_payload(decode=True).decode().strip() == "All 12 jobs finished."


class Receiver:
    """Answers 200 to /ok and 500 to anything else, keeping every request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append((self.path, dict(self.headers), body))
                self.send_response(200 if self.path == "/ok" else 500)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    local = Receiver()
    threading.Thread(target=local.server.serve_forever, daemon=True).start()
    try:
        yield local
    finally:
        local.server.shutdown()
        local.server.server_close()


def test_send_webhook_posts_a_body_that_verifies_with_the_principal_s_secret(api, receiver):
    result = _completed(
        api, "send_webhook", url=f"{receiver.url}/ok", payload={"order": 42}, event="order.paid"
    )
    assert result["status_code"] == 200
    assert result["delivered"] is True
    assert result["attempt_ms"] >= 0
    _, headers, body = next(r for r in receiver.requests if r[0] == "/ok")
    timestamp, signature = headers["X-VokaFlow-Timestamp"], headers["X-VokaFlow-Signature"]
    own = api.get("/api/webhooks/notify-secret").json()
    assert own == {"principal": "admin", "secret": principal_secret(NOTIFY_WEBHOOK_SECRET, "admin")}
    assert verify_signature(body, timestamp, signature, own["secret"])
    assert not verify_signature(body, timestamp, signature, NOTIFY_WEBHOOK_SECRET)
    sent = json.loads(body)
    assert (sent["event"], sent["principal"], sent["data"]) == (
        "order.paid",
        "admin",
        {"order": 42},
    )
    assert verify_signature(unsigned_bytes(sent), timestamp, sent["signature"], own["secret"])
    assert headers["X-VokaFlow-Event"] == "order.paid"
    assert headers["X-VokaFlow-Delivery"] == result["delivery_id"]


def test_a_webhook_answering_500_fails_the_task_after_its_own_retries(api, receiver):
    task = submit(
        api, "send_webhook", kwargs={"url": f"{receiver.url}/down", "payload": {}}, retry_count=1
    )
    final = wait_until(api, task["task_id"])
    assert final["status"] == "failed", final
    assert final["error"]["type"] == "WebhookNotDelivered"
    attempts = [r for r in receiver.requests if r[0] == "/down"]
    assert len(attempts) == 2
    assert len({headers["X-VokaFlow-Delivery"] for _, headers, _ in attempts}) == 1


def test_a_host_that_only_resolves_to_an_internal_address_is_refused_before_sending(api):
    # 167772161 is 10.0.0.1 written as one number: not an address literal at submit, but
    # the resolver turns it into one, and the check before sending refuses it.
    task = submit(
        api,
        "send_webhook",
        kwargs={"url": "http://167772161/hook", "payload": {}},
        retry_count=0,
    )
    final = wait_until(api, task["task_id"])
    assert final["status"] == "failed", final
    assert "refused: the host resolves to a private address" in final["error"]["message"]
    assert "10.0.0.1" not in final["error"]["message"], "the internal address stays unsaid"


def _subscribed(stack: Any, channel: str) -> Any:
    pubsub = connect_sync(stack.redis_url, decode_responses=True).pubsub()
    pubsub.subscribe(channel)
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    return pubsub


def _next_message(pubsub: Any, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=1.0)
        if message is not None and message["type"] == "message":
            received: dict[str, Any] = message
            return received
    raise AssertionError("no message arrived")


def test_broadcast_notification_reaches_the_audiences_subscriber(api, stack):
    channel = f"{Keys(stack.key_prefix, 16).tenant_space('admin')}:notify:ops"
    pubsub = _subscribed(stack, channel)
    try:
        result = _completed(
            api, "broadcast_notification", audience="ops", message="Disk 91% full", data={"n": 1}
        )
        assert result == {"channel": channel, "receivers": 1}
        note = json.loads(_next_message(pubsub)["data"])
        assert (note["audience"], note["message"], note["data"]) == (
            "ops",
            "Disk 91% full",
            {"n": 1},
        )
    finally:
        pubsub.close()
