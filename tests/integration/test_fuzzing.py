"""schemathesis against the whole stack's /openapi.json, on the operations that answer only
with Ray and Serve behind the gateway (Vicky, the OpenAI-compatible routes, the Ray nodes):
no 5xx, and every response as the schema says (status, content type, body); with the admin
key and with an ordinary tenant's key. tests/api/test_fuzzing.py fuzzes every other
operation on the app in-process."""

from __future__ import annotations

import pytest

from tests.schemathesis_run import NEEDS_RAY_OR_SERVE, run_schemathesis, tenant_key


@pytest.mark.parametrize("role", ["admin", "tenant"])
def test_schemathesis_finds_no_server_error_and_no_response_that_breaks_the_schema(stack, role):
    key = stack.admin_key if role == "admin" else tenant_key(stack)
    run = run_schemathesis(stack.base_url, key, "--include-path-regex", NEEDS_RAY_OR_SERVE)
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
