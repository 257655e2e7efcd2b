"""Bodies of the webhook routes, and the payload a webhook receives. A webhook's secret is
never shown again after it is configured."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from vokaflow.api.schemas.common import StrictBody
from vokaflow.clock import iso_event
from vokaflow.domain import WebhookEvent
from vokaflow.store.webhooks import Attempt, Webhook


class WebhookConfigureRequest(StrictBody):
    url: str = Field(min_length=1, max_length=2048)
    events: list[WebhookEvent] = Field(min_length=1)
    secret: str = Field(min_length=8, max_length=256)


class WebhookPayload(BaseModel):
    event: WebhookEvent
    timestamp: str
    data: dict[str, Any]
    signature: str


class WebhookResponse(BaseModel):
    """A webhook as configured; its secret is never shown again."""

    id: str
    url: str
    events: list[WebhookEvent]
    owner: str
    created_at: str
    active: bool = True

    @classmethod
    def of(cls, webhook: Webhook) -> WebhookResponse:
        return cls(
            id=webhook.webhook_id,
            url=webhook.url,
            events=[WebhookEvent(e) for e in webhook.events],
            owner=webhook.owner,
            created_at=iso_event(webhook.created_at) or "",
        )


class WebhookListResponse(BaseModel):
    webhooks: list[WebhookResponse]
    count: int


class WebhookDeletedResponse(BaseModel):
    id: str
    deleted: bool = True


class DeliveryAttemptResponse(BaseModel):
    delivery_id: str
    webhook_id: str
    attempt: int
    event: str
    subject_id: str
    status_code: int | None
    error: str | None
    duration_s: float
    timestamp: str
    outcome: str  # delivered, retrying or failed

    @classmethod
    def of(cls, attempt: Attempt) -> DeliveryAttemptResponse:
        return cls(
            delivery_id=attempt.delivery_id,
            webhook_id=attempt.webhook_id,
            attempt=attempt.attempt,
            event=attempt.event,
            subject_id=attempt.subject_id,
            status_code=attempt.status_code,
            error=attempt.error,
            duration_s=attempt.duration_s,
            timestamp=iso_event(attempt.at) or "",
            outcome=attempt.outcome,
        )


class DeliveriesResponse(BaseModel):
    """The latest attempts, newest first."""

    webhook_id: str
    deliveries: list[DeliveryAttemptResponse]
    count: int


class NotifySecretResponse(BaseModel):
    """The secret that signs the ``send_webhook`` deliveries of one principal's tasks."""

    principal: str
    secret: str
