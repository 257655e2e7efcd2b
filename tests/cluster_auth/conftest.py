"""A stack of its own whose Ray head runs with token authentication (RAY_AUTH_MODE=token),
as a head that other nodes join does, and with the embedded Redis.

Its own package, with the other stacks of their own (tests/conftest.py), beside the session's
stack: its head has ports of its own."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest

from tests.conftest import running_stack
from vokaflow.testing.stack import LocalStack


@pytest.fixture(scope="package")
def ray_token() -> str:
    return secrets.token_hex(32)  # as `ray get-auth-token --generate` makes one


@pytest.fixture(scope="package")
def token_stack(tmp_path_factory: pytest.TempPathFactory, ray_token: str) -> Iterator[LocalStack]:
    folder = tmp_path_factory.mktemp("token-auth")
    token_file = folder / "ray_token"
    token_file.write_text(ray_token)
    token_file.chmod(0o600)
    home = folder / "home"
    home.mkdir(mode=0o755)  # made beforehand, open to all: `up` closes it
    home.chmod(0o755)
    local = LocalStack(
        home=home,
        port=int(os.environ.get("VOKAFLOW_AUTH_PORT", "8794")),
        ray_port=int(os.environ.get("VOKAFLOW_AUTH_RAY_PORT", "6396")),
        dashboard_port=int(os.environ.get("VOKAFLOW_AUTH_DASHBOARD_PORT", "8271")),
        settings={
            "VOKAFLOW_ENVIRONMENT": "test",
            "VOKAFLOW_VICKY_MODELS": "[]",
            "VOKAFLOW_SHUTDOWN_GRACE_S": "2",
            "VOKAFLOW_REDIS_URL": "",  # the embedded Redis, with its password
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN_PATH": str(token_file),
        },
    )
    yield from running_stack(local)
