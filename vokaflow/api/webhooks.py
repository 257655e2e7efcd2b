"""/api/webhooks: configure, list, delete and test signed webhooks, and read their
delivery attempts. Another principal's webhook is 404, as if it did not exist."""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter

from vokaflow.api.deps import PrincipalDep, ServicesDep
from vokaflow.api.schemas.common import ErrorBody
from vokaflow.api.schemas.webhooks import (
    DeliveriesResponse,
    DeliveryAttemptResponse,
    NotifySecretResponse,
    WebhookConfigureRequest,
    WebhookDeletedResponse,
    WebhookListResponse,
    WebhookResponse,
)
from vokaflow.api.services import Services
from vokaflow.domain.principal import Principal
from vokaflow.errors import Conflict, NotFound, ValidationFailed
from vokaflow.store.webhooks import TEST_EVENT, Webhook, WebhookStore
from vokaflow.webhooks.delivery import (
    Delivery,
    RetryPolicy,
    WebhookSender,
    http_client,
    single_attempt,
)
from vokaflow.webhooks.payloads import batch_data, is_batch_event, payload, ping_data, task_data
from vokaflow.webhooks.signing import principal_secret
from vokaflow.webhooks.ssrf import Allowlist, Unresolvable, UrlRefused, checked_addresses

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid credentials"},
    503: {"model": ErrorBody, "description": "Redis unavailable"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "No such webhook (or another principal's)"},
}

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"], responses=_ERRORS)


def _store(services: Services) -> WebhookStore:
    return WebhookStore(services.redis, services.keys)


def _allowlist(services: Services) -> Allowlist:
    return Allowlist.parse(services.settings.webhook_allowed_hosts)


async def _visible(services: Services, principal: Principal, webhook_id: str) -> Webhook:
    webhook = await _store(services).get(webhook_id)
    if webhook is None or not principal.may_see(webhook.owner):
        raise NotFound(f"Webhook '{webhook_id}' not found")
    return webhook


async def _check_url(services: Services, url: str) -> None:
    try:
        await checked_addresses(url, _allowlist(services))
    except UrlRefused as exc:
        raise ValidationFailed("url", str(exc)) from None
    except Unresolvable as exc:
        raise ValidationFailed("url", str(exc)) from None


@router.post(
    "/configure",
    response_model=WebhookResponse,
    status_code=201,
    responses={
        400: {"model": ErrorBody, "description": "Invalid or refused URL or events"},
        409: {"model": ErrorBody, "description": "The principal has its limit of webhooks"},
    },
)
async def configure_webhook(
    body: WebhookConfigureRequest, services: ServicesDep, principal: PrincipalDep
) -> WebhookResponse:
    await _check_url(services, body.url)
    limit = services.settings.webhook_max_per_owner
    if len(await _store(services).of_owner(principal.name)) >= limit:
        raise Conflict(f"'{principal.name}' already has {limit} webhooks; delete one first")
    webhook = Webhook(
        webhook_id=f"wh_{uuid.uuid4().hex}",
        url=body.url,
        events=tuple(dict.fromkeys(event.value for event in body.events)),
        secret=body.secret,
        owner=principal.name,
        created_at=time.time(),
    )
    await _store(services).create(webhook)
    return WebhookResponse.of(webhook)


@router.get("", response_model=WebhookListResponse)
async def list_webhooks(services: ServicesDep, principal: PrincipalDep) -> WebhookListResponse:
    store = _store(services)
    found = await (store.every() if principal.is_admin else store.of_owner(principal.name))
    return WebhookListResponse(webhooks=[WebhookResponse.of(w) for w in found], count=len(found))


@router.delete("/{webhook_id}", response_model=WebhookDeletedResponse, responses=_NOT_FOUND)
async def delete_webhook(
    webhook_id: str, services: ServicesDep, principal: PrincipalDep
) -> WebhookDeletedResponse:
    webhook = await _visible(services, principal, webhook_id)
    await _store(services).delete(webhook)
    return WebhookDeletedResponse(id=webhook_id)


@router.post("/{webhook_id}/test", response_model=DeliveryAttemptResponse, responses=_NOT_FOUND)
async def test_webhook(
    webhook_id: str, services: ServicesDep, principal: PrincipalDep
) -> DeliveryAttemptResponse:
    """One signed `webhook.test` delivery, sent now; the attempt is also recorded."""
    webhook = await _visible(services, principal, webhook_id)
    ping = Delivery(
        delivery_id=str(uuid.uuid4()),
        event=TEST_EVENT,
        subject_id=webhook_id,
        payload=payload(TEST_EVENT, time.time(), ping_data(webhook_id)),
    )
    return await _send_once(services, webhook, ping)


async def _send_once(
    services: Services, webhook: Webhook, delivery: Delivery
) -> DeliveryAttemptResponse:
    """One signed attempt now, recorded with the webhook's deliveries."""
    policy = single_attempt(RetryPolicy.from_settings(services.settings))
    async with http_client(policy) as client:
        sender = WebhookSender(client, _store(services), policy, _allowlist(services))
        attempt = await sender.deliver(webhook, delivery)
    return DeliveryAttemptResponse.of(attempt)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryAttemptResponse,
    responses=_NOT_FOUND,
)
async def redeliver(
    webhook_id: str, delivery_id: str, services: ServicesDep, principal: PrincipalDep
) -> DeliveryAttemptResponse:
    """One of the webhook's recorded deliveries, sent again now under the same delivery id
    (a receiver that dedupes by it sees a repeat). Its body is made again from the task or
    batch as it is now: for a finished one, what was sent before."""
    webhook = await _visible(services, principal, webhook_id)
    sent = next(
        (a for a in await _store(services).attempts(webhook_id) if a.delivery_id == delivery_id),
        None,
    )
    if sent is None:
        raise NotFound(f"Delivery '{delivery_id}' of webhook '{webhook_id}' not found")
    data = await _event_data(services, webhook_id, sent.event, sent.subject_id)
    again = Delivery(delivery_id, sent.event, sent.subject_id, payload(sent.event, sent.at, data))
    return await _send_once(services, webhook, again)


async def _event_data(
    services: Services, webhook_id: str, event: str, subject_id: str
) -> dict[str, Any]:
    if event == TEST_EVENT:
        return ping_data(webhook_id)
    if is_batch_event(event):
        return batch_data(subject_id, await services.batches.get(subject_id))
    return task_data(event, subject_id, await services.tasks.get(subject_id))


@router.get(
    "/notify-secret",
    response_model=NotifySecretResponse,
    responses={404: {"model": ErrorBody, "description": "send_webhook is not configured"}},
)
async def notify_secret(
    services: ServicesDep, principal: PrincipalDep, of: str | None = None
) -> NotifySecretResponse:
    """The secret your receiver checks `send_webhook` deliveries with: your own, derived
    from the service's. Admins may ask for any principal's (`?of=NAME`)."""
    name = of if of is not None and principal.is_admin else principal.name
    if not services.settings.notify_webhook_secret:
        raise NotFound("send_webhook is not configured: VOKAFLOW_NOTIFY_WEBHOOK_SECRET is unset")
    secret = principal_secret(services.settings.notify_webhook_secret, name)
    return NotifySecretResponse(principal=name, secret=secret)


@router.get("/{webhook_id}/deliveries", response_model=DeliveriesResponse, responses=_NOT_FOUND)
async def webhook_deliveries(
    webhook_id: str, services: ServicesDep, principal: PrincipalDep
) -> DeliveriesResponse:
    await _visible(services, principal, webhook_id)
    attempts = await _store(services).attempts(webhook_id)
    return DeliveriesResponse(
        webhook_id=webhook_id,
        deliveries=[DeliveryAttemptResponse.of(a) for a in attempts],
        count=len(attempts),
    )
