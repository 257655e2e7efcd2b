"""The notifications and realtime functions without the service: argument checks, the
e-mail as built and as an SMTP server receives it, and the signed webhook request."""

from __future__ import annotations

import email
import json
import threading
from collections.abc import Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from vokaflow.config import load_settings
from vokaflow.domain.task import ClaimedTask, TaskSpec
from vokaflow.functions import registry
from vokaflow.functions.arguments import ArgumentError
from vokaflow.functions.context import TaskContext
from vokaflow.functions.notifications import (
    WebhookNotDelivered,
    build_message,
    check_address,
    notification_delivery,
    post_signed,
    send_email,
)
from vokaflow.functions.realtime import publish_event
from vokaflow.testing.stack import free_port
from vokaflow.webhooks.signing import principal_secret, unsigned_bytes, verify_signature
from vokaflow.workers.env import WorkerEnv

SECRET = "unit-notify-secret"


@pytest.fixture(autouse=True)
def settings_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOKAFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("VOKAFLOW_NOTIFY_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("VOKAFLOW_WEBHOOK_ALLOWED_HOSTS", "[]")
    monkeypatch.delenv("VOKAFLOW_REDIS_URL", raising=False)


def _refused_field(name: str, context: dict[str, Any] | None = None, **kwargs: Any) -> str:
    with pytest.raises(ArgumentError) as refused:
        registry.get(name).validated([], kwargs, context)
    return refused.value.field


@pytest.mark.parametrize(
    "address", ["ann@example.com", "a.b+tag@mail.example.co.uk", "ops@localhost", "x_y@a-b.io"]
)
def test_plain_addresses_are_accepted(address: str):
    assert check_address(address) == address


@pytest.mark.parametrize(
    "address",
    [
        "not-an-address",
        "@example.com",
        "ann@",
        "ann@@example.com",
        "ann@example..com",
        ".ann@example.com",
        "ann@-example.com",
        "ann smith@example.com",
        "ann@example.com\r\nBcc: eve@example.com",
        "ann@example.com\n",
        "Ann <ann@example.com>",
        "änn@example.com",
        "a" * 65 + "@example.com",
    ],
)
def test_anything_but_a_plain_address_is_refused(address: str):
    with pytest.raises(ValueError, match="not an e-mail address"):
        check_address(address)


def test_a_bad_recipient_is_refused_naming_its_position():
    assert _refused_field("send_email", to=["ann@example.com", "nope"], subject="s", body="b") == (
        "kwargs.to[1]"
    )
    assert _refused_field("send_email", to="ann@example.com", subject="s", body="b") == "kwargs.to"
    assert _refused_field("send_email", to=[], subject="s", body="b") == "kwargs.to"
    many = [f"u{i}@example.com" for i in range(101)]
    assert _refused_field("send_email", to=many, subject="s", body="b") == "kwargs.to"
    bad_bcc = {"to": ["ann@example.com"], "subject": "s", "body": "b", "bcc": ["x"]}
    assert _refused_field("send_email", **bad_bcc) == "kwargs.bcc[0]"


@pytest.mark.parametrize("subject", ["hi\r\nBcc: eve@example.com", "hi\nX: y", "hi\r", "a\0b"])
def test_a_subject_that_could_add_headers_is_refused(subject: str):
    assert _refused_field("send_email", to=["a@example.com"], subject=subject, body="b") == (
        "kwargs.subject"
    )


def test_a_subject_longer_than_one_header_line_may_be_is_refused():
    fields = {"to": ["a@example.com"], "body": "b"}
    assert _refused_field("send_email", subject="x" * 999, **fields) == "kwargs.subject"


def test_the_message_carries_to_and_cc_but_never_bcc():
    message = build_message(
        sender="VokaFlow <vf@example.org>",
        to=["ann@example.com", "bob@example.com"],
        cc=["cy@example.com"],
        subject="Nightly report ✓",
        body="<p>All green</p>",
        html=True,
    )
    assert message["To"] == "ann@example.com, bob@example.com"
    assert message["Cc"] == "cy@example.com"
    assert message["Bcc"] is None
    assert message["Subject"] == "Nightly report ✓"
    assert message["Message-ID"].endswith("@example.org>")
    assert message.get_content_type() == "text/html"
    assert message.get_content().strip() == "<p>All green</p>"


class _Mailbox:
    """Keeps every message; refuses recipients at refused.example."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.endswith("@refused.example"):
            return "550 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def mailbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Mailbox]:
    box = _Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("VOKAFLOW_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("VOKAFLOW_SMTP_PORT", str(port))
    monkeypatch.setenv("VOKAFLOW_SMTP_SENDER", "VokaFlow <vf@example.org>")
    try:
        yield box
    finally:
        controller.stop()


def test_an_email_reaches_every_recipient_and_bcc_stays_out_of_the_message(mailbox: _Mailbox):
    result = send_email(
        to=["ann@example.com"],
        subject="Hello",
        body="Line one\nLine two",
        cc=["cy@example.com"],
        bcc=["hidden@example.com", "ann@example.com"],
    )
    assert result["accepted"] == ["ann@example.com", "cy@example.com", "hidden@example.com"]
    assert result["refused"] == {}
    (envelope,) = mailbox.envelopes
    assert envelope.mail_from == "vf@example.org"
    assert envelope.rcpt_tos == ["ann@example.com", "cy@example.com", "hidden@example.com"]
    received: Message = email.message_from_bytes(envelope.original_content or b"")
    assert received["Subject"] == "Hello"
    assert received["Message-ID"] == result["message_id"]
    assert received["Bcc"] is None
    assert "hidden@example.com" not in (envelope.original_content or b"").decode()
    assert received.get_payload(decode=True).decode().splitlines() == ["Line one", "Line two"]


def test_refused_recipients_are_listed_with_the_servers_answer(mailbox: _Mailbox):
    result = send_email(to=["ann@example.com", "gone@refused.example"], subject="s", body="b")
    assert result["accepted"] == ["ann@example.com"]
    assert result["refused"] == {"gone@refused.example": {"code": 550, "message": "no such user"}}


async def _signed_post(url: str, answer: int = 200) -> tuple[httpx.Request | None, Any]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(answer)

    delivery = notification_delivery(
        "order.paid", {"order": 7, "signature": "mine"}, _task("task-1"), "ann"
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        attempt = await post_signed(url, delivery, SECRET, load_settings(), client)
    return (seen[0] if seen else None), attempt


async def test_the_webhook_request_is_signed_like_the_services_own_webhooks():
    request, attempt = await _signed_post("https://93.184.216.34/hooks/orders")
    assert attempt.status_code == 200
    assert request is not None
    body = request.content
    headers = request.headers
    assert headers["X-VokaFlow-Event"] == "order.paid"
    assert headers["Host"] == "93.184.216.34"
    assert verify_signature(
        body, headers["X-VokaFlow-Timestamp"], headers["X-VokaFlow-Signature"], SECRET
    )
    sent = json.loads(body)
    assert sent["event"] == "order.paid" and sent["principal"] == "ann"
    assert sent["data"] == {"order": 7, "signature": "mine"}  # the caller's own member is kept
    assert verify_signature(
        unsigned_bytes(sent), headers["X-VokaFlow-Timestamp"], sent["signature"], SECRET
    )
    assert not verify_signature(
        body, headers["X-VokaFlow-Timestamp"], headers["X-VokaFlow-Signature"], "other"
    )


async def test_an_internal_address_is_refused_before_any_request_is_made():
    request, attempt = await _signed_post("http://10.1.2.3/hook")
    assert request is None
    assert attempt.status_code is None
    assert "private address" in (attempt.error or "")


def _task(task_id: str, attempt: int = 1, created_at: float = 1.0) -> TaskContext:
    env = WorkerEnv("redis://unused", load_settings().to_wire())
    spec = TaskSpec(
        task_id=task_id, function_name="noop", owner="ann", data_scope="ann", created_at=created_at
    )
    return TaskContext(ClaimedTask(spec, attempt), env)


def test_every_retry_of_a_task_sends_the_same_delivery_id():
    first = notification_delivery("notification", {}, _task("task-9"), "ann")
    again = notification_delivery("notification", {}, _task("task-9", attempt=2), "ann")
    assert first.delivery_id == again.delivery_id
    assert notification_delivery("notification", {}, None, "").delivery_id != first.delivery_id


def test_a_new_submission_under_a_reused_task_id_sends_a_new_delivery_id():
    """An idempotency key reused after its task's record expired makes the same task id."""
    first = notification_delivery("notification", {}, _task("task-9", created_at=1.0), "ann")
    later = notification_delivery("notification", {}, _task("task-9", created_at=9.0), "ann")
    assert first.delivery_id != later.delivery_id


def test_each_principal_signs_with_a_secret_of_its_own():
    assert principal_secret(SECRET, "ann") != principal_secret(SECRET, "bob")
    assert principal_secret(SECRET, "ann") == principal_secret(SECRET, "ann")
    assert principal_secret(SECRET, "ann") != principal_secret("other", "ann")


def test_a_webhook_url_is_refused_at_submit_when_no_dns_is_needed_to_know_it_is_bad():
    assert _refused_field("send_webhook", url="ftp://x", payload={}) == "kwargs.url"
    assert _refused_field("send_webhook", url="http://169.254.169.254/", payload={}) == "kwargs.url"
    assert _refused_field("send_webhook", url="http://[::1]:8080/", payload={}) == "kwargs.url"
    assert _refused_field("send_webhook", url="http://u:p@example.com/", payload={}) == "kwargs.url"
    assert _refused_field("send_webhook", url="http://a.example/", payload={}, event="A B") == (
        "kwargs.event"
    )
    entry = registry.get("send_webhook")
    entry.validated([], {"url": "https://hooks.example.com/x", "payload": {}})  # no lookup
    allowed = {"webhook_allowed_hosts": ["127.0.0.0/8"]}
    entry.validated([], {"url": "http://127.0.0.1:9000/x", "payload": {}}, allowed)


def test_an_allowlisted_loopback_address_passes_the_check_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
):
    assert _refused_field("send_webhook", url="http://127.0.0.1:9/", payload={}) == "kwargs.url"
    monkeypatch.setenv("VOKAFLOW_WEBHOOK_ALLOWED_HOSTS", '["127.0.0.1"]')
    registry.get("send_webhook").validated([], {"url": "http://127.0.0.1:9/", "payload": {}})


def test_send_webhook_refuses_to_send_unsigned(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VOKAFLOW_NOTIFY_WEBHOOK_SECRET", "")
    with pytest.raises(RuntimeError, match="refusing to send unsigned"):
        registry.get("send_webhook").invoke(url="https://hooks.example.com/x", payload={})


@pytest.fixture
def answering_500(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("VOKAFLOW_WEBHOOK_ALLOWED_HOSTS", '["127.0.0.1"]')
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    finally:
        server.shutdown()
        server.server_close()


def test_a_non_2xx_answer_raises_so_the_tasks_retries_apply(answering_500: str):
    with pytest.raises(WebhookNotDelivered, match="HTTP 500"):
        registry.get("send_webhook").invoke(url=answering_500, payload={"x": 1})


@pytest.mark.parametrize("stream", ["../x", "a b", "A", "a:b", "a.b", "", "x" * 65])
def test_stream_and_audience_names_are_lowercase_slugs(stream: str):
    assert _refused_field("publish_event", stream=stream, event={}) == "kwargs.stream"
    assert _refused_field("broadcast_notification", audience=stream, message="m") == (
        "kwargs.audience"
    )


def test_publishing_outside_a_task_is_refused_since_streams_belong_to_a_principal():
    with pytest.raises(RuntimeError, match="run as VokaFlow tasks"):
        publish_event(stream="orders", event={"id": 1})
