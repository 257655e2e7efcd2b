"""GET /api/health/ on the app in-process: 503 naming Redis when Redis does not answer (the
whole stack's health, scheduler included, is tests/integration/test_health.py)."""

from __future__ import annotations

import httpx

from vokaflow.api.app import create_app
from vokaflow.api.services import Services
from vokaflow.config import load_settings


async def test_health_is_503_naming_redis_when_redis_is_unreachable():
    services = Services(load_settings(), "redis://127.0.0.1:1/0")
    transport = httpx.ASGITransport(app=create_app(services))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        reply = await client.get("/api/health/")
    assert reply.status_code == 503
    body = reply.json()
    assert body["error"] == "service_unavailable"
    assert body["details"]["component"] == "redis"
    assert body["details"]["status"] == "degraded"
