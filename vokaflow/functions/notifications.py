"""``notifications`` functions: e-mail over SMTP, signed webhooks, Redis broadcasts.

``send_webhook`` goes through the same code as the service's own webhooks (vokaflow/webhooks):
the same SSRF guard and ``VOKAFLOW_WEBHOOK_ALLOWED_HOSTS``, the same signature headers and
signed body, no redirects, no proxy from the environment. Each principal's deliveries are
signed with a secret of its own, derived from ``VOKAFLOW_NOTIFY_WEBHOOK_SECRET``
(``GET /api/webhooks/notify-secret`` tells a key its own), and the signed body names the
principal: one tenant's task can never make a body another tenant's receiver accepts. It
refuses to send unsigned.
"""

from __future__ import annotations

import ipaddress
import json
import re
import smtplib
import ssl
import time
import uuid
from collections.abc import Sequence
from contextlib import AsyncExitStack
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import AfterValidator, Field, ValidationInfo

from vokaflow.clock import iso_event
from vokaflow.config import Settings
from vokaflow.domain import WorkerType
from vokaflow.functions.context import TaskContext, current_settings, current_task
from vokaflow.functions.realtime import Slug, own_channels
from vokaflow.functions.registry import function
from vokaflow.webhooks.signing import principal_secret
from vokaflow.webhooks.ssrf import Allowlist, parse_target, refusal

if TYPE_CHECKING:  # httpx, which the sender needs, takes a while to import: workers wait
    import httpx

    from vokaflow.store.webhooks import Attempt
    from vokaflow.webhooks.delivery import Delivery

SMTP_TIMEOUT_S = 30.0
MAX_RECIPIENTS = 100
MAX_SUBJECT_CHARS = 998  # RFC 5322's limit for one header line
MAX_URL_CHARS = 2048

# Plain ASCII addresses (no quoted local parts, no SMTPUTF8): what every server takes.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})*", re.ASCII)


def check_address(value: str) -> str:
    local = value.rpartition("@")[0]
    if not ADDRESS.fullmatch(value) or len(value) > 254 or len(local) > 64:
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


def check_single_line(value: str) -> str:
    """A header value with a line break would let the caller add headers (Bcc: ...)."""
    if any(char in value for char in "\r\n\0"):
        raise ValueError("must be one line: no CR, LF or NUL characters")
    return value


EmailAddress = Annotated[str, AfterValidator(check_address)]
Recipients = Annotated[list[EmailAddress], Field(min_length=1, max_length=MAX_RECIPIENTS)]
CopyRecipients = Annotated[list[EmailAddress], Field(max_length=MAX_RECIPIENTS)]
Subject = Annotated[str, Field(max_length=MAX_SUBJECT_CHARS), AfterValidator(check_single_line)]


def build_message(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    body: str,
    html: bool = False,
    cc: Sequence[str] = (),
) -> EmailMessage:
    """The message as sent; Bcc recipients are envelope-only and never appear in it."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    # A domain of our own: without one, make_msgid asks DNS for this host's name.
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2])
    message.set_content(body, subtype="html" if html else "plain")
    return message


def _transmit(
    message: EmailMessage, envelope_from: str, recipients: list[str], settings: Settings
) -> dict[str, tuple[int, bytes]]:
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S) as smtp:
        if settings.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password)
        return smtp.send_message(message, from_addr=envelope_from, to_addrs=recipients)


@function(
    category="notifications",
    worker_type=WorkerType.NETWORK_INTENSIVE,
    description="Sends an e-mail through the configured SMTP server",
    estimated_duration="1-5 seconds",
)
def send_email(
    to: Recipients,
    subject: Subject,
    body: str,
    html: bool = False,
    cc: CopyRecipients | None = None,
    bcc: CopyRecipients | None = None,
) -> dict[str, Any]:
    settings = current_settings()
    envelope_from = check_address(parseaddr(settings.smtp_sender)[1])
    message = build_message(
        sender=settings.smtp_sender, to=to, subject=subject, body=body, html=html, cc=cc or ()
    )
    recipients = list(dict.fromkeys([*to, *(cc or ()), *(bcc or ())]))
    # Raises when every recipient is refused; otherwise names the ones that were.
    refused = _transmit(message, envelope_from, recipients, settings)
    return {
        "accepted": [address for address in recipients if address not in refused],
        "refused": {
            address: {"code": code, "message": reply.decode(errors="replace")}
            for address, (code, reply) in refused.items()
        },
        "message_id": message["Message-ID"],
    }


def _allowlist(info: ValidationInfo | None) -> Allowlist:
    context = info.context if info is not None else None
    if isinstance(context, dict) and "webhook_allowed_hosts" in context:
        return Allowlist.parse(context["webhook_allowed_hosts"])
    return Allowlist.parse(current_settings().webhook_allowed_hosts)


def check_webhook_url(value: str, info: ValidationInfo) -> str:
    """What can be refused without DNS: the scheme, credentials in the URL, an internal
    literal address. Host names are resolved and checked again right before sending."""
    target = parse_target(value)
    try:
        address = str(ipaddress.ip_address(target.host))
    except ValueError:
        return value
    allowlist = _allowlist(info)
    reason = None if allowlist.names(target.host) else refusal(address, allowlist)
    if reason is not None:
        raise ValueError(f"{reason}; VOKAFLOW_WEBHOOK_ALLOWED_HOSTS can allow it")
    return value


WebhookUrl = Annotated[str, Field(max_length=MAX_URL_CHARS), AfterValidator(check_webhook_url)]
EventName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]


class WebhookNotDelivered(RuntimeError):
    """No 2xx answer; raised so that the task's own retries apply."""


class _Unrecorded:
    """Single attempts are reported in the task's result, not in a webhook's history."""

    async def record(self, attempt: Attempt) -> None:
        return None

    async def exists(self, webhook_id: str) -> bool:
        return True


def notification_delivery(
    event: str, data: dict[str, Any], task: TaskContext | None, principal: str
) -> Delivery:
    """The same delivery id on every retry of one submission of a task, so a receiver can
    drop repeats (a task id reused with an idempotency key later is a new submission)."""
    # httpx, which the webhook modules import, loads only for a webhook (see above)
    from vokaflow.webhooks.delivery import Delivery
    from vokaflow.webhooks.payloads import payload as signed_payload

    ident = (
        uuid.uuid5(uuid.NAMESPACE_URL, f"vokaflow:send_webhook:{task.task_id}:{task.created_at!r}")
        if task
        else uuid.uuid4()
    )
    return Delivery(
        delivery_id=str(ident),
        event=event,
        subject_id=task.task_id if task else "",
        payload=signed_payload(event, time.time(), data, principal=principal),
    )


async def post_signed(
    url: str,
    delivery: Delivery,
    secret: str,
    settings: Settings,
    client: httpx.AsyncClient | None = None,
) -> Attempt:
    """One signed POST through the service's webhook sender (SSRF check included)."""
    # httpx, which the webhook modules import, loads only for a webhook (see above)
    from vokaflow.store.webhooks import Webhook
    from vokaflow.webhooks.delivery import RetryPolicy, WebhookSender, http_client, single_attempt

    policy = single_attempt(RetryPolicy.from_settings(settings))
    allowlist = Allowlist.parse(settings.webhook_allowed_hosts)
    webhook = Webhook("send_webhook", url, (delivery.event,), secret, "", time.time())
    async with AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(http_client(policy))
        sender = WebhookSender(client, _Unrecorded(), policy, allowlist)
        return await sender.attempt(webhook, delivery, 1)


@function(
    category="notifications",
    worker_type=WorkerType.NETWORK_INTENSIVE,
    description="POSTs a signed JSON notification to a webhook URL",
    estimated_duration="<5 seconds",
)
async def send_webhook(
    url: WebhookUrl, payload: dict[str, Any], event: EventName = "notification"
) -> dict[str, Any]:
    settings = current_settings()
    if not settings.notify_webhook_secret:
        raise RuntimeError("VOKAFLOW_NOTIFY_WEBHOOK_SECRET is not set: refusing to send unsigned")
    task = current_task()
    principal = task.owner if task else ""
    delivery = notification_delivery(event, payload, task, principal)
    secret = principal_secret(settings.notify_webhook_secret, principal)
    attempt = await post_signed(url, delivery, secret, settings)
    if attempt.status_code is None or not 200 <= attempt.status_code < 300:
        raise WebhookNotDelivered(f"{url}: {attempt.error}")
    return {
        "status_code": attempt.status_code,
        "delivered": True,
        "attempt_ms": round(attempt.duration_s * 1000, 1),
        "delivery_id": delivery.delivery_id,
    }


@function(
    category="notifications",
    worker_type=WorkerType.GENERAL_PURPOSE,
    description="Publishes a notification on the audience's Redis channel (your own)",
    estimated_duration="<1 second",
)
def broadcast_notification(
    audience: Slug,
    message: Annotated[str, Field(min_length=1, max_length=65_536)],
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    channels = own_channels()
    channel = channels.audience(audience)
    task = current_task()
    note = {
        "audience": audience,
        "message": message,
        "data": data or {},
        "sent_at": iso_event(time.time()),
        "task_id": task.task_id if task else None,
    }
    # PUBLISH answers how many subscribers got it; nobody subscribed means nobody ever will.
    receivers = channels.publish(channel, json.dumps(note, separators=(",", ":")))
    return {"channel": channel, "receivers": receivers}
