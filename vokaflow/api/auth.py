"""Authentication: an API key as ``X-API-Key`` or as ``Authorization: Bearer``, or a JWT
as ``Authorization: Bearer``."""

from __future__ import annotations

from fastapi import Request

from vokaflow.api.services import Services
from vokaflow.api.tokens import looks_like_jwt, verify
from vokaflow.errors import Unauthorized
from vokaflow.store.api_keys import Principal


def _presented_credential(request: Request) -> str | None:
    api_key = request.headers.get("x-api-key")
    if api_key:
        return api_key.strip()
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return credential.strip()
    return None


async def require_principal(request: Request) -> Principal:
    credential = _presented_credential(request)
    if credential is None:
        raise Unauthorized()
    services: Services = request.app.state.services
    if looks_like_jwt(credential):
        principal = verify(credential, services.settings)
    else:
        principal = await services.principal_for(credential)
    if principal is None:
        raise Unauthorized()
    return principal
