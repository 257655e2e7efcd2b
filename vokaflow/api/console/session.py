"""Who a console request acts for: the session its cookie names, and the principal the
session's credential still stands for, found by the same lookup (and cache) as the API's.
Every action also carries the session's CSRF token."""

from __future__ import annotations

import hmac
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import Request

from vokaflow.api.auth import client_address
from vokaflow.api.services import Services
from vokaflow.api.tokens import looks_like_jwt, seconds_left
from vokaflow.domain.principal import Principal
from vokaflow.errors import ApiError, Unauthorized
from vokaflow.store.api_keys import digest
from vokaflow.store.console_sessions import ConsoleSession

SESSION_COOKIE = "vokaflow_console"
SIGN_IN_COOKIE = "vokaflow_console_sign_in"  # the sign-in form's own CSRF token
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MAX_FORM_BYTES = 64 * 1024


class SignInRequired(ApiError):
    status_code = 401
    code = "unauthorized"


class CsrfRefused(ApiError):
    status_code = 403
    code = "csrf_failed"


@dataclass(frozen=True)
class ConsoleUser:
    principal: Principal
    session: ConsoleSession

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def secure_cookies(request: Request) -> bool:
    """Secure cookies when the browser reached us over HTTPS (directly, or through a
    trusted proxy that says so)."""
    if request.url.scheme == "https":
        return True
    peer = request.client.host if request.client else ""
    trusted = services_of(request).settings.trusted_proxies
    return peer in trusted and request.headers.get("x-forwarded-proto") == "https"


async def principal_of(services: Services, session: ConsoleSession) -> Principal | None:
    if session.kind == "key":
        return await services.principal_for_key_digest(session.credential)
    if session.kind == "jwt":
        return await services.principal_for_signed_in_token(session.credential)
    return None


async def console_user(request: Request) -> ConsoleUser:
    """The signed-in user, or SignInRequired. A session whose key was revoked, or whose JWT
    expired, is closed here."""
    services = services_of(request)
    session_id = request.cookies.get(SESSION_COOKIE, "")
    session = await services.console_sessions.find(session_id) if session_id else None
    if session is None:
        raise SignInRequired("Sign in to use the console")
    principal = await principal_of(services, session)
    if principal is None:
        await services.console_sessions.close(session.session_id)
        raise SignInRequired("Your sign-in has ended; sign in again")
    return ConsoleUser(principal, session)


async def form_of(request: Request) -> dict[str, str]:
    """A urlencoded form's fields, the first value of each."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise CsrfRefused("Form too large")
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def same_token(presented: str | None, expected: str) -> bool:
    """Constant time, and for any text (compare_digest refuses non-ASCII str)."""
    return bool(presented) and hmac.compare_digest(str(presented).encode(), expected.encode())


def check_csrf(user: ConsoleUser, presented: str | None) -> None:
    if not same_token(presented, user.csrf_token):
        raise CsrfRefused("The form's CSRF token is missing or wrong; reload the page")


async def acting_user(request: Request) -> tuple[ConsoleUser, dict[str, str]]:
    """The signed-in user of an action (a POST) and its form, once its CSRF token checked
    out: from the form, or from the header htmx sends."""
    user = await console_user(request)
    form = await form_of(request)
    check_csrf(user, form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER))
    return user, form


async def sign_in(request: Request, credential: str) -> ConsoleSession:
    """A new session for ``credential``, or Unauthorized. Failures count against the
    client exactly as the API's do."""
    services = services_of(request)
    credential = credential.strip()
    principal = await services.principal_for(credential) if credential else None
    if principal is None:
        client = client_address(request, services.settings.trusted_proxies)
        services.auth_failures.check(client)
        await services.auth_failures.record_failure(client)
        raise Unauthorized("That API key or token is not valid")
    ttl_s = services.settings.console_session_s
    now = time.time()
    if looks_like_jwt(credential):
        left_s = seconds_left(credential)
        claims = {
            "name": principal.name,
            "role": principal.role,
            "max_priority": principal.max_priority.value if principal.max_priority else "",
            "exp": now + left_s,
        }
        kept = json.dumps(claims, sort_keys=True)
        return await services.console_sessions.open("jwt", kept, now, min(ttl_s, left_s))
    return await services.console_sessions.open("key", digest(credential), now, ttl_s)


def new_sign_in_token() -> str:
    return secrets.token_urlsafe(24)
