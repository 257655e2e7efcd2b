"""schemathesis's CLI against a served /openapi.json, as both fuzzing tests run it.

Every operation chosen goes through all three phases; the fuzzing phase is bounded per
operation (VOKAFLOW_FUZZ_EXAMPLES, 15 by default): past that, more random bodies mostly meet
the same validation again. The seed is fixed (VOKAFLOW_FUZZ_SEED) so that a failure can be
replayed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)

# What answers only with Ray and Serve behind the gateway: Vicky's deployments, the
# OpenAI-compatible routes to them, and the Ray nodes the admin's worker metrics list.
NEEDS_RAY_OR_SERVE = r"^/(api/vicky|v1)/|^/api/metrics/workers$"


def tenant_key(service) -> str:
    created = service.cli("keys", "create", "--name", "fuzzing-tenant")
    return str(created.stdout.strip().splitlines()[-1])


def run_schemathesis(base_url: str, key: str, *operations: str) -> subprocess.CompletedProcess[str]:
    """`operations` are more of schemathesis's options that choose the operations
    (--include-path-regex, --exclude-path-regex)."""
    command = [
        str(Path(sys.executable).parent / "schemathesis"),
        "run",
        f"{base_url}/openapi.json",
        "--header",
        f"X-API-Key: {key}",
        *operations,
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        os.environ.get("VOKAFLOW_FUZZ_EXAMPLES", "15"),
        "--seed",
        os.environ.get("VOKAFLOW_FUZZ_SEED", "20261127"),
        # One worker: with two threads, hypothesis's ast.parse of its filters now and then
        # hits CPython 3.11's "AST constructor recursion depth mismatch" (gh-106905) and
        # schemathesis reports it as an error of its own.
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=900)
    print(run.stdout[-3000:])
    return run
