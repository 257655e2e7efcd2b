"""GET /api/health/: Redis and the scheduler must both answer."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

import vokaflow
from vokaflow.api.schemas.health import HealthResponse
from vokaflow.api.services import Services
from vokaflow.clock import iso_event
from vokaflow.errors import ServiceUnavailable

router = APIRouter(tags=["health"])


@router.get("/api/health/", response_model=HealthResponse)
@router.get("/api/health", include_in_schema=False)
async def health(request: Request) -> HealthResponse:
    services: Services = request.app.state.services
    await services.tasks.ping()
    beat = await services.tasks.scheduler_heartbeat()
    now = time.time()
    if beat is None or now - beat > services.settings.scheduler_stale_after_s:
        raise ServiceUnavailable("scheduler", "The scheduler is not running", recovery_in_s=15)
    return HealthResponse(
        status="healthy",
        timestamp=iso_event(now) or "",
        uptime=round(now - services.started_at, 6),
        version=vokaflow.__version__,
        environment=services.settings.environment,
    )
