"""The chaos tests' names for the session's stack (tests/conftest.py), which they share with
every other test on it: they run after all of those, since they restart its Redis, kill its
scheduler and, last of all, run `down` and `up`."""

from __future__ import annotations

import httpx
import pytest

from vokaflow.testing.stack import LocalStack, RedisServer


@pytest.fixture
def chaos_stack(stack: LocalStack) -> LocalStack:
    return stack


@pytest.fixture
def chaos_api(api: httpx.Client) -> httpx.Client:
    return api


@pytest.fixture
def redis_server(stack_redis: RedisServer) -> RedisServer:
    return stack_redis
