"""schemathesis against the app's /openapi.json, served over HTTP from this process, on
every operation that answers without Ray or Serve: no 5xx, and every response as the schema
says (status, content type, body); with the admin key and with an ordinary tenant's key.
tests/integration/test_fuzzing.py fuzzes the rest on the whole stack."""

from __future__ import annotations

import pytest

from tests.schemathesis_run import NEEDS_RAY_OR_SERVE, run_schemathesis, tenant_key


@pytest.mark.parametrize("role", ["admin", "tenant"])
def test_schemathesis_finds_no_server_error_and_no_response_that_breaks_the_schema(stack, role):
    key = stack.admin_key if role == "admin" else tenant_key(stack)
    with stack.scheduler_keeps_beating(), stack.over_http() as base_url:
        run = run_schemathesis(base_url, key, "--exclude-path-regex", NEEDS_RAY_OR_SERVE)
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
