"""What route handlers receive: the replica's services and the caller's principal."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from vokaflow.api.auth import require_principal
from vokaflow.api.services import Services
from vokaflow.domain.principal import Principal


async def get_services(request: Request) -> Services:
    # async on purpose: FastAPI runs a plain def dependency in a thread pool, per request.
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]

# A W3C traceparent: the caller's span, which the request's span (and its tasks') continue
TraceParent = Annotated[str | None, Header(max_length=128)]
