"""Bearer JWTs: HS256 with the server's secret, exp and nbf checked with a leeway, and
``sub`` as the principal."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from tests.conftest import JWT_CLAIMS
from tests.integration.helpers import submit

STATUS = "/api/high-scale-tasks/status/"


def _secret(stack) -> str:
    return (stack.home / "jwt_secret").read_text().strip()


def _bearer(stack, token: str) -> httpx.Client:
    client: httpx.Client = stack.client(api_key="")
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def _token(stack, **claims) -> str:
    now = int(time.time())
    payload = {"sub": "kim", "nbf": now, "exp": now + 600, **JWT_CLAIMS, **claims}
    return jwt.encode(payload, _secret(stack))


def test_a_token_from_the_cli_acts_as_its_subject(stack, api):
    created = stack.cli("token", "create", "--sub", "jane", "--ttl", "1h")
    token = created.stdout.strip().splitlines()[-1]
    with _bearer(stack, token) as jane:
        task = submit(jane, "noop")
        assert jane.get(STATUS + task["task_id"]).status_code == 200
    other = stack.cli("token", "create", "--sub", "joe", "--ttl", "15m")
    with _bearer(stack, other.stdout.strip().splitlines()[-1]) as joe:
        assert joe.get(STATUS + task["task_id"]).status_code == 404
    assert api.get(STATUS + task["task_id"]).status_code == 200


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"exp": -120}, id="expired beyond the leeway"),
        pytest.param({"nbf": 120}, id="not valid yet"),
        pytest.param({"sub": None}, id="without a subject"),
    ],
)
def test_an_invalid_token_gets_the_spec_401_body(stack, claims):
    """Times are seconds from now, taken when the test runs."""
    now = int(time.time())
    claims = {k: now + v if k in ("exp", "nbf") else v for k, v in claims.items()}
    token = _token(stack, **claims)
    with _bearer(stack, token) as client:
        reply = client.get("/api/high-scale-tasks/priorities")
    assert reply.status_code == 401
    assert reply.json()["error"] == "unauthorized"
    assert token not in reply.text


def test_a_token_signed_with_another_secret_is_refused(stack):
    token = jwt.encode(
        {"sub": "eve", "exp": int(time.time()) + 600}, "not-the-secret-but-just-as-long-as-one-" * 2
    )
    with _bearer(stack, token) as client:
        assert client.get("/api/high-scale-tasks/priorities").status_code == 401


def test_a_token_just_past_its_expiry_is_accepted_within_the_leeway(stack):
    with _bearer(stack, _token(stack, exp=int(time.time()) - 5)) as client:
        assert client.get("/api/high-scale-tasks/priorities").status_code == 200


def test_token_create_refuses_a_duration_it_cannot_read(stack):
    refused = stack.cli("token", "create", "--sub", "x", "--ttl", "soon", check=False)
    assert refused.returncode != 0 and "--ttl" in refused.stderr + refused.stdout
