"""Attacks on the real stack, as an ordinary tenant would make them: each test holds a
non-admin key (``tenant``) and tries to reach what is not its own.

The stack is the session's one (tests/conftest.py); every tenant key is new, so tests
never share a principal by accident."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from vokaflow.testing.stack import LocalStack

TenantFactory = Callable[..., httpx.Client]


@pytest.fixture
def tenant(stack: LocalStack) -> Iterator[TenantFactory]:
    """``tenant()`` or ``tenant("name")``: a client holding a new non-admin key."""
    opened: list[httpx.Client] = []

    def make(name: str | None = None) -> httpx.Client:
        name = name or f"tenant-{uuid.uuid4().hex[:8]}"
        created = stack.cli("keys", "create", "--name", name)
        client = stack.client(api_key=created.stdout.strip().splitlines()[-1])
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.close()
