"""`vokaflow keys list|revoke`, and 429 for a client whose credentials keep failing."""

from __future__ import annotations

import time

import pytest

from tests.api.conftest import AUTH_FAILURE_WINDOW_S
from tests.integration.helpers import wait_out_the_auth_failure_window


def _created_key(stack, name: str) -> str:
    return str(stack.cli("keys", "create", "--name", name).stdout.strip().splitlines()[-1])


def test_keys_list_shows_ids_names_and_roles_but_never_a_key(stack):
    new_key = _created_key(stack, "lister")
    listing = stack.cli("keys", "list").stdout
    assert "lister" in listing and "admin" in listing
    assert new_key not in listing
    assert stack.admin_key not in listing


def test_a_revoked_key_is_refused_and_listed_as_revoked(stack):
    new_key = _created_key(stack, "leaver")
    with stack.client(api_key=new_key) as leaver:
        assert leaver.get("/api/high-scale-tasks/priorities").status_code == 200
        key_id = next(
            line.split()[0]
            for line in stack.cli("keys", "list").stdout.splitlines()
            if " leaver " in line
        )
        revoked = stack.cli("keys", "revoke", key_id)
        assert f"Revoked user key {key_id}" in revoked.stdout
        deadline = time.monotonic() + 15  # replicas cache a key for api_key_cache_s
        while leaver.get("/api/high-scale-tasks/priorities").status_code != 401:
            assert time.monotonic() < deadline, "a revoked key kept working"
            time.sleep(0.5)
    line = next(ln for ln in stack.cli("keys", "list").stdout.splitlines() if key_id in ln)
    assert "revoked" in line


def test_revoking_an_unknown_key_fails_with_a_message(stack):
    result = stack.cli("keys", "revoke", "no-such-key", check=False)
    assert result.returncode == 1
    assert "No live key" in result.stderr


@pytest.mark.parametrize("bad_header", [{"X-API-Key": "vf_wrong"}, {}])
def test_a_client_that_keeps_failing_auth_gets_429_but_good_keys_still_work(stack, bad_header):
    wait_out_the_auth_failure_window(AUTH_FAILURE_WINDOW_S)
    with stack.client(api_key="") as anonymous:
        codes = []
        for _ in range(200):
            reply = anonymous.get("/api/high-scale-tasks/priorities", headers=bad_header)
            codes.append(reply.status_code)
            if reply.status_code == 429:
                break
        assert codes[0] == 401 and codes[-1] == 429
        body = reply.json()
        assert body["error"] == "rate_limit_exceeded"
        assert body["details"]["retry_after"] >= 1
        assert int(reply.headers["Retry-After"]) >= 1
        assert "vf_wrong" not in reply.text
        with_good_key = anonymous.get(
            "/api/high-scale-tasks/priorities", headers={"X-API-Key": stack.admin_key}
        )
        assert with_good_key.status_code == 200, "a valid credential is never refused"
    wait_out_the_auth_failure_window(AUTH_FAILURE_WINDOW_S)
