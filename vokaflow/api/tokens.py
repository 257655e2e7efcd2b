"""Bearer JWTs: issued by `vokaflow token create`, checked by the gateway. ``sub`` is the
principal; a ``role`` claim of "admin" makes it an admin, and a ``max_priority`` claim caps
the priority its tasks may have, as a key's does. With VOKAFLOW_JWT_ISSUER or
VOKAFLOW_JWT_AUDIENCE set, a token must carry that ``iss`` or ``aud``."""

from __future__ import annotations

import time

import jwt

from vokaflow.config import Settings
from vokaflow.domain.principal import Principal
from vokaflow.domain.priority import Priority
from vokaflow.store.api_keys import check_principal


class TtlTooLong(ValueError):
    """A token may live at most VOKAFLOW_JWT_MAX_TTL_S."""


def looks_like_jwt(credential: str) -> bool:
    return credential.count(".") == 2


def issue(
    settings: Settings,
    secret: str,
    subject: str,
    ttl_s: float,
    role: str = "user",
    max_priority: Priority | None = None,
) -> str:
    if ttl_s > settings.jwt_max_ttl_s:
        raise TtlTooLong(
            f"a token lives at most {settings.jwt_max_ttl_s:g} s (VOKAFLOW_JWT_MAX_TTL_S)"
        )
    check_principal(subject, role)
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": subject,
        "role": role,
        "iat": now,
        "nbf": now,
        "exp": now + int(ttl_s),
    }
    if max_priority is not None:
        claims["max_priority"] = max_priority.value
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, secret, algorithm="HS256")


def verify(token: str, settings: Settings) -> Principal | None:
    """The token's principal, or None when it is invalid, expired, not yet valid, from
    another issuer or for another audience, names a principal its role may not be, or caps
    priorities at a level that does not exist."""
    if settings.jwt_public_key:
        key, algorithms = settings.jwt_public_key, ["RS256"]
    elif settings.jwt_secret:
        key, algorithms = settings.jwt_secret, ["HS256"]
    else:
        return None
    required = ["sub", "exp", *(["iss"] if settings.jwt_issuer else [])]
    required += ["aud"] if settings.jwt_audience else []
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            leeway=settings.jwt_leeway_s,
            issuer=settings.jwt_issuer or None,
            audience=settings.jwt_audience or None,
            options={"require": required},
        )
    except jwt.PyJWTError:
        return None
    role = "admin" if claims.get("role") == "admin" else "user"
    try:
        cap = Priority(claims["max_priority"]) if "max_priority" in claims else None
        principal = Principal(name=str(claims["sub"]), role=role, max_priority=cap)
        check_principal(principal.name, principal.role)
    except ValueError:  # NameRefused, or a max_priority that is no priority
        return None
    return principal


def seconds_left(token: str) -> int:
    """How long a token that verified still lives (its ``exp``, which verify requires)."""
    expires = jwt.decode(token, options={"verify_signature": False}).get("exp")
    return max(1, int(float(expires) - time.time())) if expires else 1
