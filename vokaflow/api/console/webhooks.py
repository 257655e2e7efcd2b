"""Webhooks: the configured hooks, and each one's deliveries with status code, latency and
attempts; a test delivery, and any delivery sent again."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from vokaflow.api import webhooks as api_webhooks
from vokaflow.api.console.render import page, redirect_to
from vokaflow.api.console.session import acting_user, console_user, services_of

router = APIRouter()


@router.get("/webhooks", response_class=HTMLResponse)
async def webhook_list(request: Request) -> HTMLResponse:
    user = await console_user(request)
    listing = await api_webhooks.list_webhooks(services_of(request), user.principal)
    return page(request, "webhooks.html", user, listing=listing)


@router.get("/webhooks/{webhook_id}", response_class=HTMLResponse)
async def webhook_page(request: Request, webhook_id: str) -> HTMLResponse:
    user = await console_user(request)
    services = services_of(request)
    deliveries = await api_webhooks.webhook_deliveries(webhook_id, services, user.principal)
    return page(request, "webhook.html", user, webhook_id=webhook_id, deliveries=deliveries)


@router.post("/webhooks/{webhook_id}/test")
async def send_test(request: Request, webhook_id: str) -> Response:
    user, _ = await acting_user(request)
    await api_webhooks.test_webhook(webhook_id, services_of(request), user.principal)
    return _back(request, webhook_id)


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")
async def redeliver(request: Request, webhook_id: str, delivery_id: str) -> Response:
    user, _ = await acting_user(request)
    services = services_of(request)
    await api_webhooks.redeliver(webhook_id, delivery_id, services, user.principal)
    return _back(request, webhook_id)


def _back(request: Request, webhook_id: str) -> RedirectResponse:
    return redirect_to(request, f"/webhooks/{webhook_id}")
