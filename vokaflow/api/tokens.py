"""Bearer JWTs: issued by `vokaflow token create`, checked by the gateway. ``sub`` is the
principal; a ``role`` claim of "admin" makes it an admin."""

from __future__ import annotations

import time

import jwt

from vokaflow.config import Settings
from vokaflow.store.api_keys import Principal


def looks_like_jwt(credential: str) -> bool:
    return credential.count(".") == 2


def issue(secret: str, subject: str, ttl_s: float, role: str = "user") -> str:
    now = int(time.time())
    claims = {"sub": subject, "role": role, "iat": now, "nbf": now, "exp": now + int(ttl_s)}
    return jwt.encode(claims, secret, algorithm="HS256")


def verify(token: str, settings: Settings) -> Principal | None:
    """The token's principal, or None when it is invalid, expired or not yet valid."""
    if settings.jwt_public_key:
        key, algorithms = settings.jwt_public_key, ["RS256"]
    elif settings.jwt_secret:
        key, algorithms = settings.jwt_secret, ["HS256"]
    else:
        return None
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            leeway=settings.jwt_leeway_s,
            options={"require": ["sub", "exp"]},
        )
    except jwt.PyJWTError:
        return None
    role = "admin" if claims.get("role") == "admin" else "user"
    return Principal(name=str(claims["sub"]), role=role)
