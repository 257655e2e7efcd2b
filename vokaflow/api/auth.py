"""Authentication: an API key as ``X-API-Key`` or as ``Authorization: Bearer``, or a JWT
as ``Authorization: Bearer``."""

from __future__ import annotations

from collections.abc import Collection

from fastapi import Request

from vokaflow.api.services import Services
from vokaflow.domain.principal import Principal
from vokaflow.errors import Unauthorized


def _presented_credential(request: Request) -> str | None:
    api_key = request.headers.get("x-api-key")
    if api_key:
        return api_key.strip()
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return credential.strip()
    return None


def client_address(request: Request, trusted_proxies: Collection[str]) -> str:
    """The caller's address: the TCP peer, or, when the peer is a trusted proxy, the last
    X-Forwarded-For hop (the one that proxy added)."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for", "")
    if peer in trusted_proxies and forwarded:
        return forwarded.split(",")[-1].strip()[:64] or peer
    return peer


async def require_principal(request: Request) -> Principal:
    """The caller's principal, or 401. A valid credential is always accepted; a client
    whose credentials keep failing gets 429 for its failures until its window ends."""
    services: Services = request.app.state.services
    credential = _presented_credential(request)
    principal = None if credential is None else await services.principal_for(credential)
    if principal is not None:
        return principal
    client = client_address(request, services.settings.trusted_proxies)
    services.auth_failures.check(client)
    await services.auth_failures.record_failure(client)
    raise Unauthorized()
