"""The overview: queues and SLA attainment per priority, throughput, rate limits and, for
admins, pools, nodes and Redis memory."""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from vokaflow.api import metrics as api_metrics
from vokaflow.api import monitoring as api_monitoring
from vokaflow.api.console.render import page
from vokaflow.api.console.session import console_user, services_of
from vokaflow.domain import Priority, WorkerType
from vokaflow.domain.priority import queued_per_priority
from vokaflow.domain.sla import Attainment

router = APIRouter()

THROUGHPUT_WINDOW_S = 110  # per-second counts live 120 s


@dataclass(frozen=True)
class PriorityRow:
    priority: Priority
    queued: int
    last_5_min: Attainment
    last_hour: Attainment


@router.get("/overview", response_class=HTMLResponse)
async def overview(request: Request) -> HTMLResponse:
    user = await console_user(request)
    services = services_of(request)
    now = time.time()
    summary = await api_metrics.metrics(services, user.principal)
    pools = nodes = redis = None
    if user.principal.is_admin:
        pools = await api_metrics.worker_pools(services)
        nodes = await services.metrics.node_stats()  # the scheduler's reading of each node
        redis = await api_monitoring.redis_metrics(services, user.principal)
    return page(
        request,
        "overview.html",
        user,
        rows=await _priority_rows(request, now),
        summary=summary,
        pools=pools,
        nodes=nodes,
        redis=redis,
    )


async def _priority_rows(request: Request, now: float) -> list[PriorityRow]:
    services = services_of(request)
    queued = queued_per_priority(await services.dispatch.level_counts(list(WorkerType)))
    recent = await services.metrics.sla_attainment(now, 5)
    hour = await services.metrics.sla_attainment(now, 60)
    return [
        PriorityRow(p, queued[p], recent[p], hour[p])
        for p in sorted(Priority, key=lambda p: p.level)
    ]


@router.get("/overview/throughput.json")
async def throughput(request: Request) -> JSONResponse:
    """Tasks finished per second over the last minutes, for the live chart."""
    await console_user(request)
    services = services_of(request)
    now = int(time.time())
    seconds = list(range(now - THROUGHPUT_WINDOW_S, now))
    counts = await services.metrics.finished_per_second(seconds)
    return JSONResponse({"t": seconds, "finished": counts}, headers={"Cache-Control": "no-store"})
