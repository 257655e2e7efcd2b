"""Authentication: an API key as ``X-API-Key`` or as ``Authorization: Bearer``, or a JWT
as ``Authorization: Bearer``."""

from __future__ import annotations

from fastapi import Request

from vokaflow.api.services import Services
from vokaflow.api.tokens import looks_like_jwt, verify
from vokaflow.errors import Unauthorized
from vokaflow.store.api_keys import Principal

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _presented_credential(request: Request) -> str | None:
    api_key = request.headers.get("x-api-key")
    if api_key:
        return api_key.strip()
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return credential.strip()
    return None


def client_address(request: Request) -> str:
    """The caller's address. Behind a proxy on this host (Serve's HAProxy mode), the first
    X-Forwarded-For hop; otherwise the peer, so that remote callers cannot pick a name."""
    peer = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for", "")
    if peer in LOOPBACK and forwarded:
        return forwarded.split(",")[0].strip()[:64] or peer
    return peer


async def require_principal(request: Request) -> Principal:
    services: Services = request.app.state.services
    client = client_address(request)
    services.auth_failures.check(client)
    credential = _presented_credential(request)
    principal = None
    if credential is not None:
        if looks_like_jwt(credential):
            principal = verify(credential, services.settings)
        else:
            principal = await services.principal_for(credential)
    if principal is None:
        await services.auth_failures.record_failure(client)
        raise Unauthorized()
    return principal
