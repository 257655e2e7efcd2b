"""Names and rights that the gateway and the CLI decide alone: no user key or token named
admin, nor named like an admin key; tokens checked for issuer, audience and lifetime
(tests/security/test_identity.py runs the tasks and dead letters)."""

from __future__ import annotations

import time
import uuid

import jwt

from tests.conftest import JWT_CLAIMS
from tests.security.attacks import bearer_client, signed_token


def test_no_key_or_token_of_a_user_may_be_named_admin(stack, api):
    refused = stack.cli("keys", "create", "--name", "admin", check=False)
    assert refused.returncode != 0 and "admin" in refused.stderr
    token = stack.cli("token", "create", "--sub", "admin", "--ttl", "1h", check=False)
    assert token.returncode != 0
    with bearer_client(stack, signed_token(stack, "admin")) as fake_admin:
        reply = fake_admin.get("/api/high-scale-tasks/dead-letters")
        assert reply.status_code == 401, reply.text


def test_a_user_token_named_like_an_admin_key_is_refused(stack):
    name = f"ops-{uuid.uuid4().hex[:6]}"
    stack.cli("keys", "create", "--name", name, "--admin")
    with bearer_client(stack, signed_token(stack, name)) as impostor:
        assert impostor.get("/api/high-scale-tasks/functions").status_code == 401
    refused = stack.cli("keys", "create", "--name", name, check=False)
    assert refused.returncode != 0, "a user key may not take an admin's name"


def test_a_token_from_another_issuer_or_for_another_audience_is_refused(stack):
    """The test stack sets VOKAFLOW_JWT_ISSUER and VOKAFLOW_JWT_AUDIENCE."""
    secret = (stack.home / "jwt_secret").read_text().strip()
    now = int(time.time())
    base = {"sub": "iss-check", "nbf": now, "exp": now + 600}
    for claims in ({}, {"iss": "elsewhere", "aud": "vokaflow-api"}, {**JWT_CLAIMS, "aud": "x"}):
        with bearer_client(stack, jwt.encode({**base, **claims}, secret)) as client:
            assert client.get("/api/high-scale-tasks/functions").status_code == 401, claims
    with bearer_client(stack, jwt.encode({**base, **JWT_CLAIMS}, secret)) as client:
        assert client.get("/api/high-scale-tasks/functions").status_code == 200


def test_token_create_caps_the_lifetime(stack):
    refused = stack.cli("token", "create", "--sub", "long-lived", "--ttl", "400d", check=False)
    assert refused.returncode != 0 and "VOKAFLOW_JWT_MAX_TTL_S" in refused.stderr
    issued = stack.cli("token", "create", "--sub", "long-lived", "--ttl", "7d")
    token = issued.stdout.strip().splitlines()[-1]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["iss"] == "vokaflow-tests" and claims["aud"] == "vokaflow-api"
