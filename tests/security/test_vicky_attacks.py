"""Vicky's fine-tuned models belong to the key that trained them (issue 16, finding 3), and
its streams end at the request deadline (the low finding "Vicky streams have no deadline").

Tenant A trains a model on its private dataset once for the module. Another tenant then
tries every way to list it, use it or train from it, by its name and by its internal id,
and must get exactly what a model that does not exist gets.

The test stack (tests/conftest.py) allows one fine-tuned model per key and gives every
Vicky request 15 s."""

from __future__ import annotations

import json
import struct
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.integration.helpers import submit, user_client, wait_until
from tests.security.conftest import TenantFactory
from vokaflow.testing.stack import LocalStack
from vokaflow.vicky.datasets import owner_folder
from vokaflow.vicky.trained import internal_id

NOWHERE = "no-such-model"
DEADLINE_S = 15  # VOKAFLOW_VICKY_REQUEST_TIMEOUT_S of the test stack
PARAMETERS = {"max_tokens": 4, "temperature": 0.0}
CHAT = [{"role": "user", "content": "What is the launch code?"}]
PRIVATE = "\n".join(
    json.dumps(
        {
            "messages": [
                {"role": "user", "content": "What is the launch code?"},
                {"role": "assistant", "content": "The launch code is 4711."},
            ]
        }
    )
    for _ in range(4)
)
NOT_JSON = "this line is not JSON\n"


@dataclass(frozen=True)
class Trained:
    client: httpx.Client  # the owner's
    owner: str
    name: str  # what the owner calls it
    key: str  # its internal id
    path: Path  # its weights


def write_dataset(stack: LocalStack, owner: str, name: str, text: str) -> str:
    folder = owner_folder(stack.home, owner)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return name


def finished(client: httpx.Client, function_name: str, *args: Any, **kwargs: Any) -> Any:
    task = submit(client, function_name, *args, kwargs=kwargs, retry_count=0, timeout=600)
    return wait_until(client, task["task_id"], timeout_s=300)


def failure(client: httpx.Client, function_name: str, *args: Any, **kwargs: Any) -> Any:
    done = finished(client, function_name, *args, **kwargs)
    assert done["status"] == "failed", done
    return done


@pytest.fixture(scope="module")
def trained(stack: LocalStack) -> Iterator[Trained]:
    owner = f"vicky-a-{uuid.uuid4().hex[:8]}"
    client = user_client(stack, owner)
    dataset = write_dataset(stack, owner, "private.jsonl", PRIVATE)
    done = finished(client, "vicky_training", "tiny", dataset, "secret-bot", steps=3)
    assert done["status"] == "completed", done["error"]
    path = Path(done["result"]["path"])
    yield Trained(client, owner, "secret-bot", internal_id(owner, "secret-bot"), path)
    client.close()


def _as_unknown(reply: httpx.Response, model_id: str) -> str:
    """The 400 an unknown model gets, with the id taken out."""
    assert reply.status_code == 400, reply.text
    assert reply.json()["details"]["field"] == "model"
    return str(reply.json()["details"]["error"]).replace(model_id, "<id>")


def test_another_tenant_neither_lists_nor_finds_a_trained_model(
    trained: Trained, tenant: TenantFactory
) -> None:
    mine = {m["id"]: m["owned_by"] for m in trained.client.get("/v1/models").json()["data"]}
    assert mine[trained.name] == trained.owner
    assert trained.client.get(f"/v1/models/{trained.name}").status_code == 200
    other = tenant()
    listed = [m["id"] for m in other.get("/v1/models").json()["data"]]
    assert "tiny" in listed and not any(trained.name in m for m in listed), listed
    missing = other.get(f"/v1/models/{NOWHERE}")
    assert missing.status_code == 404
    for model_id in (trained.name, trained.key):
        reply = other.get(f"/v1/models/{model_id}")
        assert reply.status_code == 404
        assert reply.json()["message"].replace(model_id, "<id>") == missing.json()[
            "message"
        ].replace(NOWHERE, "<id>")


ROUTES: dict[str, tuple[str, Callable[[str], dict[str, Any]]]] = {
    "inference": (
        "/api/vicky/inference",
        lambda m: {"text": "launch code?", "model": m, "parameters": PARAMETERS},
    ),
    "inference-stream": (
        "/api/vicky/inference",
        lambda m: {"text": "code?", "model": m, "parameters": PARAMETERS, "stream": True},
    ),
    "chat": ("/api/vicky/chat", lambda m: {"messages": CHAT, "model": m, "parameters": PARAMETERS}),
    "chat-stream": (
        "/api/vicky/chat",
        lambda m: {"messages": CHAT, "model": m, "parameters": PARAMETERS, "stream": True},
    ),
    "openai": ("/v1/chat/completions", lambda m: {"model": m, "messages": CHAT, "max_tokens": 4}),
    "openai-stream": (
        "/v1/chat/completions",
        lambda m: {"model": m, "messages": CHAT, "max_tokens": 4, "stream": True},
    ),
}


@pytest.mark.parametrize("route", ROUTES)
def test_another_tenant_cannot_use_a_trained_model_through_the_api(
    trained: Trained, tenant: TenantFactory, route: str
) -> None:
    path, body = ROUTES[route]
    assert trained.client.post(path, json=body(trained.name)).status_code == 200, "the owner can"
    other = tenant()
    expected = _as_unknown(other.post(path, json=body(NOWHERE)), NOWHERE)
    for model_id in (trained.name, trained.key):
        assert _as_unknown(other.post(path, json=body(model_id)), model_id) == expected


@pytest.mark.parametrize(
    ("function_name", "prompt"),
    [("vicky_inference", "What is the launch code?"), ("vicky_chat", CHAT)],
)
def test_another_tenant_cannot_use_a_trained_model_in_a_task(
    trained: Trained, tenant: TenantFactory, function_name: str, prompt: Any
) -> None:
    own = finished(trained.client, function_name, prompt, trained.name, max_tokens=4)
    assert own["status"] == "completed", own["error"]
    other = tenant()

    def error(model_id: str) -> tuple[str, str]:
        found = failure(other, function_name, prompt, model_id, max_tokens=4)["error"]
        return found["type"], found["message"].replace(model_id, "<id>")

    expected = error(NOWHERE)
    assert expected[0] == "UnknownModel"
    assert error(trained.name) == error(trained.key) == expected


def test_another_tenant_cannot_train_from_a_trained_model(
    trained: Trained, tenant: TenantFactory, stack: LocalStack
) -> None:
    name = f"vicky-b-{uuid.uuid4().hex[:8]}"
    other = tenant(name)
    dataset = write_dataset(stack, name, "mine.jsonl", PRIVATE)

    def error(base: str) -> tuple[str, str]:
        found = failure(other, "vicky_training", base, dataset, "copy-bot", steps=1)["error"]
        return found["type"], found["message"].replace(base, "<id>")

    expected = error(NOWHERE)
    assert expected[0] == "UnknownModel"
    assert error(trained.name) == error(trained.key) == expected


def test_training_the_name_of_another_tenants_model_reveals_nothing(
    trained: Trained, tenant: TenantFactory, stack: LocalStack
) -> None:
    name = f"vicky-b-{uuid.uuid4().hex[:8]}"
    other = tenant(name)
    broken = write_dataset(stack, name, "broken.jsonl", NOT_JSON)
    error = failure(other, "vicky_training", "tiny", broken, trained.name, steps=1)["error"]
    assert error["type"] == "JSONDecodeError", "it got past the name to reading the data"


def test_an_admin_lists_and_uses_every_trained_model(trained: Trained, api: httpx.Client) -> None:
    listed = {m["id"]: m["owned_by"] for m in api.get("/v1/models").json()["data"]}
    assert listed[trained.key] == trained.owner
    assert api.get(f"/v1/models/{trained.key}").json()["owned_by"] == trained.owner
    reply = api.post(
        "/api/vicky/inference",
        json={"text": "launch code?", "model": trained.key, "parameters": PARAMETERS},
    )
    assert reply.status_code == 200, reply.text
    done = finished(api, "vicky_inference", "launch code?", trained.key, max_tokens=4)
    assert done["status"] == "completed", done["error"]


def test_a_tenant_at_its_cap_cannot_train_another_model(
    trained: Trained, api: httpx.Client
) -> None:
    done = failure(trained.client, "vicky_training", "tiny", "private.jsonl", "second", steps=3)
    assert "VOKAFLOW_VICKY_MAX_TRAINED_PER_PRINCIPAL" in done["error"]["message"]
    assert done.get("progress") is None, "refused before any training step"
    listed = [m["id"] for m in api.get("/v1/models").json()["data"]]
    assert internal_id(trained.owner, "second") not in listed, "no Serve application either"


def test_a_failed_training_releases_its_model_id(tenant: TenantFactory, stack: LocalStack) -> None:
    name = f"vicky-c-{uuid.uuid4().hex[:8]}"
    client = tenant(name)
    broken = write_dataset(stack, name, "broken.jsonl", NOT_JSON)
    for _ in range(2):  # the retry reaches the data: the id is free and counts for no cap
        error = failure(client, "vicky_training", "tiny", broken, "my-bot", steps=1)["error"]
        assert error["type"] == "JSONDecodeError", error


def test_training_a_model_too_large_for_memory_is_refused_before_it_starts(
    trained: Trained,
) -> None:
    """The owner's own model stands in for a huge base model: its weights' header says
    2**40 parameters (16 TiB to train), then it is put back."""
    weights = trained.path / "model.safetensors"
    original = weights.read_bytes()
    shape = {"dtype": "F32", "shape": [2**20, 2**20], "data_offsets": [0, 0]}
    header = json.dumps({"model.embed_tokens.weight": shape}).encode()
    try:
        weights.write_bytes(struct.pack("<Q", len(header)) + header)
        done = failure(trained.client, "vicky_training", trained.name, "private.jsonl", "big")
    finally:
        weights.write_bytes(original)
    assert f"model '{trained.name}' is too large to train here" in done["error"]["message"]
    assert done.get("progress") is None, "refused before loading anything"


def _replica(model_key: str) -> psutil.Process:
    """The process of the model's Serve replica (Ray titles it after the application)."""
    title = f"ServeReplica:vicky-{model_key}:"
    for process in psutil.process_iter(["cmdline"]):
        if title in " ".join(process.info["cmdline"] or []):
            return process
    raise AssertionError(f"no process serves {model_key}")


def test_a_stream_whose_model_never_answers_ends_at_the_request_deadline(
    trained: Trained,
) -> None:
    """The model's replica is frozen (SIGSTOP): the stream must not wait for it forever.
    Last in this module: it leaves the model's replica just thawed."""
    replica = _replica(trained.key)
    body = {"messages": CHAT, "model": trained.name, "parameters": PARAMETERS, "stream": True}
    replica.suspend()
    try:
        started = time.monotonic()
        reply = trained.client.post("/api/vicky/chat", json=body, timeout=DEADLINE_S + 15)
        waited = time.monotonic() - started
    finally:
        replica.resume()
    assert reply.status_code == 503, reply.text
    assert f"no answer within {DEADLINE_S} s" in reply.json()["message"]
    assert DEADLINE_S - 1 < waited < DEADLINE_S + 10
