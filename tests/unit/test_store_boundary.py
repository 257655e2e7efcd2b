"""The store's boundary: its failures are domain errors, which the API alone turns into the
spec's 503, and what a task function gets from it is scoped to the task's principal."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import redis.exceptions

from vokaflow.api.errors import unavailable
from vokaflow.errors import ApiError
from vokaflow.functions.context import TaskContext
from vokaflow.store.errors import StoreUnavailable
from vokaflow.store.keys import Keys
from vokaflow.store.redis_client import redis_boundary
from vokaflow.store.task_services import ModelRecords
from vokaflow.store.trained_models import OwnTrainedModels
from vokaflow.vicky.trained import TrainedEntry


class _Unreachable:
    @redis_boundary
    async def read(self) -> str:
        raise redis.exceptions.ConnectionError("refused")


def test_an_unreachable_redis_is_a_store_error_not_an_http_one():
    with pytest.raises(StoreUnavailable) as raised:
        asyncio.run(_Unreachable().read())
    assert raised.value.component == "redis"
    assert "ConnectionError" in raised.value.message
    assert not isinstance(raised.value, ApiError)


def test_the_api_answers_a_store_error_with_the_spec_s_503_naming_the_component():
    error = unavailable(StoreUnavailable("redis", "Redis is temporarily unavailable"))
    body = error.to_body()
    assert error.status_code == 503
    assert error.headers() == {"Retry-After": "5"}
    assert body["error"] == "service_unavailable"
    assert body["message"] == "Redis is temporarily unavailable"
    assert body["details"]["component"] == "redis"
    assert body["details"]["status"] == "degraded"


class _Hash:
    """Just enough of a blocking client for one hash."""

    def __init__(self) -> None:
        self.fields: dict[tuple[str, str], str] = {}

    def hget(self, key: str, field: str) -> str | None:
        return self.fields.get((key, field))

    def hset(self, key: str, field: str, value: str) -> None:
        self.fields[(key, field)] = value


def test_a_principal_s_model_records_are_its_own_and_an_admin_s_are_unscoped():
    client, keys = _Hash(), Keys("svc", 1)
    alice = ModelRecords(client, keys, data_scope="alice")  # type: ignore[arg-type]
    admin = ModelRecords(client, keys, data_scope="")  # type: ignore[arg-type]
    alice.put("churn", {"sha256": "a"})
    admin.put("churn", {"sha256": "b"})
    assert client.fields == {
        ("svc:ml:models", "alice/churn"): json.dumps({"sha256": "a"}),
        ("svc:ml:models", "churn"): json.dumps({"sha256": "b"}),
    }
    assert alice.get("churn") == {"sha256": "a"}
    assert ModelRecords(client, keys, "bob").get("churn") is None  # type: ignore[arg-type]


class _Models:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def claim(self, owner: str, name: str, task_id: str, limit: int) -> TrainedEntry:
        self.calls.append(("claim", owner))
        return TrainedEntry(f"{name}@{owner}", owner, name, task_id)

    def release(self, claim: TrainedEntry) -> None:
        self.calls.append(("release", claim.owner))


def test_a_task_claims_trained_models_in_its_principal_s_name_only():
    models = _Models()
    alice = OwnTrainedModels(models, "alice", is_admin=False)  # type: ignore[arg-type]
    claim = alice.claim("tuned", "t1", limit=3)
    assert claim.owner == "alice"
    alice.release(claim)
    with pytest.raises(PermissionError):
        alice.release(TrainedEntry("tuned@bob", "bob", "tuned", "t2"))
    assert models.calls == [("claim", "alice"), ("release", "alice")]


def test_a_task_context_hands_out_no_redis_client():
    assert not hasattr(TaskContext, "redis")
    assert {"channels", "model_records", "trained_models"} <= set(dir(TaskContext))
