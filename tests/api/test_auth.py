"""Every endpoint but health needs an API key."""

from __future__ import annotations

import pytest

PROTECTED = [
    ("POST", "/api/high-scale-tasks/submit"),
    ("GET", "/api/high-scale-tasks/status/x"),
    ("DELETE", "/api/high-scale-tasks/cancel/x"),
    ("GET", "/api/high-scale-tasks/priorities"),
    ("GET", "/api/high-scale-tasks/functions"),
]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_a_request_without_a_key_gets_the_spec_401_body(stack, method, path):
    with stack.client(api_key="") as anonymous:
        reply = anonymous.request(method, path, json={"name": "x", "function_name": "noop"})
    assert reply.status_code == 401
    body = reply.json()
    assert body["error"] == "unauthorized"
    assert body["message"] == "Invalid or missing authentication token"
    assert "timestamp" in body


@pytest.mark.parametrize("header", ["X-API-Key", "Authorization"])
def test_a_wrong_key_is_refused_in_either_header(stack, header):
    value = "vf_not-a-real-key" if header == "X-API-Key" else "Bearer vf_not-a-real-key"
    with stack.client(api_key="") as anonymous:
        reply = anonymous.get("/api/high-scale-tasks/priorities", headers={header: value})
    assert reply.status_code == 401


def test_health_needs_no_key(stack):
    with stack.client(api_key="") as anonymous:
        assert anonymous.get("/api/health/").status_code == 200


def test_a_key_made_by_the_cli_works_and_is_stored_only_hashed(stack):
    created = stack.cli("keys", "create", "--name", "alice")
    new_key = created.stdout.strip().splitlines()[-1]
    with stack.client(api_key=new_key) as alice:
        assert alice.get("/api/high-scale-tasks/priorities").status_code == 200
    import redis

    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    stored = list(client.scan_iter(match=f"{stack.key_prefix}:apikey:*"))
    assert stored, "keys are indexed under the prefix"
    assert all(new_key not in key for key in stored)
    assert all(new_key not in str(client.hgetall(key)) for key in stored)
