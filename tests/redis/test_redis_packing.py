"""The service's Redis connections pack commands with hiredis: byte for byte what redis-py's
own packer sends, and the same DataError for values Redis cannot take."""

from __future__ import annotations

import random
import sys

import hiredis
import pytest
import redis.asyncio as aioredis
import redis.exceptions

from vokaflow.store import redis_client
from vokaflow.store.redis_client import connect

ARGUMENTS = [
    "vf:{p3}:queue:cpu",
    b"\x00\xffraw",
    "ünïcode",
    0,
    -17,
    10**20,
    0.1 + 0.2,
    1e-7,
    1764244000.123456,
    -0.0,
]


def _python_packed(*args: object) -> bytes:
    return b"".join(aioredis.Connection().pack_command(*args))


@pytest.fixture(autouse=True)
def service_url(tier_redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """connect() asks the server whether it is a cluster: the tier's Redis answers."""
    monkeypatch.setattr(sys.modules[__name__], "SERVICE_URL", tier_redis_url)


SERVICE_URL = ""


def _service_connection() -> aioredis.Connection:
    client = connect(SERVICE_URL)
    connection: aioredis.Connection = client.connection_pool.connection_class()
    return connection


def test_the_service_s_connections_pack_with_hiredis(monkeypatch):
    calls = []
    pack = hiredis.pack_command

    def spy(args):
        calls.append(args)
        return pack(args)

    connection = _service_connection()
    monkeypatch.setattr(redis_client.hiredis, "pack_command", spy)
    connection.pack_command("GET", "k")
    assert calls == [(b"GET", "k")]


def test_a_script_call_is_packed_to_the_same_bytes_as_redis_py_packs_it():
    args = ("EVALSHA", "a" * 40, 3, *ARGUMENTS)
    assert b"".join(_service_connection().pack_command(*args)) == _python_packed(*args)


def test_random_scores_are_written_with_the_same_digits():
    rng = random.Random(7)
    connection = _service_connection()
    for _ in range(2000):
        score = rng.uniform(-1e12, 1e12)
        assert b"".join(connection.pack_command("ZADD", "q", score, "t")) == _python_packed(
            "ZADD", "q", score, "t"
        )


@pytest.mark.parametrize("name", ["SCRIPT LOAD", b"SCRIPT LOAD"])
def test_a_multi_word_command_name_becomes_separate_arguments(name):
    packed = b"".join(_service_connection().pack_command(name, "return 1"))
    assert packed == _python_packed(name, "return 1")
    assert packed.startswith(b"*3\r\n$6\r\nSCRIPT\r\n$4\r\nLOAD\r\n")


def test_buffers_are_sent_as_their_bytes():
    args = ("SET", "k", bytearray(b"\x00ab"))
    assert b"".join(_service_connection().pack_command(*args)) == _python_packed(*args)
    view = ("SET", "k", memoryview(b"xyz"))
    assert b"".join(_service_connection().pack_command(*view)) == _python_packed(*view)


@pytest.mark.parametrize("value", [None, True, [1, 2]])
def test_a_value_redis_cannot_store_is_refused_as_redis_py_refuses_it(value):
    with pytest.raises(redis.exceptions.DataError):
        _service_connection().pack_command("SET", "k", value)


def test_a_tls_url_keeps_its_tls_connection_class_packing_with_hiredis():
    connection_class = connect("rediss://127.0.0.1:6390/0").connection_pool.connection_class
    assert issubclass(connection_class, aioredis.SSLConnection)
    assert issubclass(connection_class, redis_client._HiredisPacking)
