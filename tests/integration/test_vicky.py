"""Vicky through the real HTTP API and Serve, on the tiny model built by make install:
inference, chat, sessions, SSE, the openai client, the task functions and training."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import openai
import pytest

from tests.integration.helpers import submit, user_client, wait_until

TINY = {"model": "tiny", "parameters": {"max_tokens": 12, "temperature": 0.0}}
INFERENCE_FIELDS = {
    "response",
    "model_used",
    "personality",
    "tokens_used",
    "execution_time",
    "confidence",
    "metadata",
}


def _sse(reply: httpx.Response) -> list[tuple[str, str]]:
    """(event, data) pairs of a server-sent event stream."""
    events, event = [], "message"
    for line in reply.text.splitlines():
        if line.startswith("event: "):
            event = line[len("event: ") :]
        elif line.startswith("data: "):
            events.append((event, line[len("data: ") :]))
            event = "message"
    return events


def test_inference_answers_with_exactly_the_specs_fields(api):
    reply = api.post(
        "/api/vicky/inference",
        json={"text": "Explain machine learning", "personality": "conversational", **TINY},
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert set(body) == INFERENCE_FIELDS
    assert body["model_used"] == "tiny" and body["personality"] == "conversational"
    assert isinstance(body["response"], str)
    assert body["tokens_used"] > 12, "prompt tokens are counted too"
    assert 0 < body["confidence"] <= 1 and body["execution_time"] > 0
    assert body["metadata"]["model_version"] == "tiny-1"
    assert body["metadata"]["processing_node"]


def test_chat_answers_with_the_specs_fields_and_a_session_id(api):
    reply = api.post(
        "/api/vicky/chat",
        json={"messages": [{"role": "user", "content": "Hola"}], "personality": "teacher", **TINY},
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert {
        "message",
        "session_id",
        "model_used",
        "personality",
        "tokens_used",
        "execution_time",
    } <= set(body)
    assert body["message"]["role"] == "assistant"
    assert body["session_id"].startswith("session_")


def test_a_session_continues_with_only_the_new_message(api, stack):
    session_id = f"s-{uuid.uuid4().hex[:8]}"
    first = api.post(
        "/api/vicky/chat",
        json={
            "messages": [{"role": "user", "content": "My name is Ana."}],
            "session_id": session_id,
            **TINY,
        },
    ).json()
    second = api.post(
        "/api/vicky/chat",
        json={
            "messages": [{"role": "user", "content": "What is my name?"}],
            "session_id": session_id,
            **TINY,
        },
    ).json()
    assert first["session_id"] == second["session_id"] == session_id
    assert second["tokens_used"] > first["tokens_used"], "the first turn is in the prompt"
    import redis

    client = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    from vokaflow.store.keys import Keys

    key = Keys(stack.key_prefix, 16).chat_session("admin", session_id)
    history = [json.loads(m) for m in client.lrange(key, 0, -1)]
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[0]["content"] == "My name is Ana." and client.ttl(key) > 0


def test_chat_streams_tokens_as_server_sent_events(api):
    reply = api.post(
        "/api/vicky/chat",
        json={"messages": [{"role": "user", "content": "Tell me a story"}], "stream": True, **TINY},
    )
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = _sse(reply)
    deltas = [
        json.loads(data)["delta"]
        for event, data in events
        if event == "message" and data != "[DONE]"
    ]
    [done] = [json.loads(data) for event, data in events if event == "done"]
    assert events[-1] == ("message", "[DONE]")
    assert len(deltas) >= 1 and "".join(deltas) == done["message"]["content"]
    assert done["tokens_used"] > 0


def test_unknown_models_and_personalities_get_400_listing_the_known_ones(api):
    reply = api.post("/api/vicky/inference", json={"text": "hi", "model": "gpt-9"})
    assert reply.status_code == 400
    assert reply.json()["details"]["field"] == "model"
    assert "tiny" in reply.json()["details"]["error"]
    reply = api.post(
        "/api/vicky/inference", json={"text": "hi", "model": "tiny", "personality": "pirate"}
    )
    assert reply.status_code == 400 and reply.json()["details"]["field"] == "personality"


def test_a_model_without_weights_gets_503_naming_it(api):
    reply = api.post("/api/vicky/inference", json={"text": "hi", "model": "qwen_7b"})
    assert reply.status_code == 503, reply.text
    body = reply.json()
    assert body["details"]["component"] == "vicky:qwen_7b"
    assert "qwen_7b" in body["message"]
    assert "models--Qwen--Qwen2.5-7B-Instruct" in body["message"], "it says where it looked"


def test_personalities_are_listed_with_their_prompts(api):
    body = api.get("/api/vicky/personalities").json()
    names = {p["name"] for p in body["personalities"]}
    assert {"conversational", "technical_assistant"} <= names and len(names) >= 5
    assert all(p["system_prompt"] for p in body["personalities"])


def test_the_openai_client_works_streamed_and_not(stack):
    client = openai.OpenAI(base_url=f"{stack.base_url}/v1", api_key=stack.admin_key)
    assert "tiny" in [m.id for m in client.models.list().data]
    messages = [{"role": "user", "content": "Say hello"}]
    completion = client.chat.completions.create(
        model="tiny", messages=messages, max_tokens=10, temperature=0
    )
    text = completion.choices[0].message.content
    assert isinstance(text, str) and completion.usage.completion_tokens <= 10
    assert completion.choices[0].finish_reason in ("stop", "length")
    chunks = list(
        client.chat.completions.create(
            model="tiny",
            messages=messages,
            max_tokens=10,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert streamed == text, "greedy decoding gives the same text either way"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens >= 1
    with_parts = client.chat.completions.create(
        model="tiny",
        messages=[
            {"role": "developer", "content": "Be brief."},
            {"role": "user", "content": [{"type": "text", "text": "Say hello"}]},
        ],
        max_tokens=4,
    )
    assert with_parts.choices[0].message.role == "assistant"


def test_the_vicky_task_functions_answer_through_the_deployment(api):
    inference = (
        submit(api, "vicky_inference", "Hola Vicky", "tiny", max_tokens=8)
        if False
        else (submit(api, "vicky_inference", "Hola Vicky", "tiny", kwargs={"max_tokens": 8}))
    )
    chat = submit(
        api,
        "vicky_chat",
        [{"role": "user", "content": "Need help with Python"}],
        "tiny",
        kwargs={"max_tokens": 8},
    )
    done = wait_until(api, inference["task_id"], timeout_s=120)
    assert done["status"] == "completed", done
    assert done["result"]["model_used"] == "tiny" and "response" in done["result"]
    done = wait_until(api, chat["task_id"], timeout_s=120)
    assert done["status"] == "completed", done
    assert done["result"]["message"]["role"] == "assistant"


def test_training_lowers_the_loss_and_the_new_model_answers_at_once(api, stack):
    folder = stack.home / "datasets" / "admin"  # the admin key's dataset folder
    folder.mkdir(parents=True, exist_ok=True)
    dataset = folder / "train.jsonl"
    lines = [
        {
            "messages": [
                {"role": "user", "content": "ping"},
                {"role": "assistant", "content": "pong pong pong"},
            ]
        }
    ] * 8
    dataset.write_text("\n".join(json.dumps(line) for line in lines))
    new_id = f"tiny-ft-{uuid.uuid4().hex[:6]}"
    task = submit(
        api,
        "vicky_training",
        "tiny",
        "train.jsonl",
        new_id,
        kwargs={"steps": 30},
        timeout=600,
    )
    deadline = time.monotonic() + 300
    progress = None
    while (status := api.get(f"/api/high-scale-tasks/status/{task['task_id']}").json())[
        "status"
    ] in ("queued", "running"):
        progress = status.get("progress") or progress
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    assert status["status"] == "completed", status["error"]
    result = status["result"]
    assert result["model_id"] == new_id and result["last_loss"] < result["first_loss"]
    assert (status.get("progress") or progress)["loss"] > 0
    reply = api.post(
        "/api/vicky/inference",
        json={"text": "ping", "model": new_id, "parameters": {"max_tokens": 6}},
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["metadata"]["model_version"].startswith(new_id)


def test_a_request_without_a_model_uses_the_configured_default(api):
    reply = api.post("/api/vicky/inference", json={"text": "hi", "parameters": {"max_tokens": 4}})
    assert reply.status_code == 200, reply.text
    assert reply.json()["model_used"] == "tiny", "the test stack's VOKAFLOW_VICKY_DEFAULT_MODEL"


def test_a_conversation_that_cannot_fit_the_window_gets_400(api):
    long_system = [{"role": "system", "content": "rule " * 400}]
    reply = api.post(
        "/api/vicky/chat",
        json={"messages": [*long_system, {"role": "user", "content": "hi"}], **TINY},
    )
    assert reply.status_code == 400, reply.text
    assert reply.json()["details"]["field"] == "messages"
    assert "window" in reply.json()["details"]["error"]


@pytest.mark.parametrize("dataset", ["/etc/passwd", "../../admin_key", "a/../../x"])
def test_a_dataset_outside_the_owners_folder_is_refused_at_submit(api, dataset):
    reply = api.post(
        "/api/high-scale-tasks/submit",
        json={"name": "t", "function_name": "vicky_training", "args": ["tiny", dataset, "n1"]},
    )
    assert reply.status_code == 400
    assert reply.json()["details"]["field"] == "args[1]"


def test_a_dataset_that_is_not_the_owners_fails_without_naming_what_is_there(api):
    task = submit(api, "vicky_training", "tiny", "nobody-here.jsonl", "tiny-x3", retry_count=0)
    done = wait_until(api, task["task_id"], timeout_s=120)
    assert done["status"] == "failed"
    assert "no dataset" in done["error"]["message"]


def test_a_claim_left_by_a_training_that_died_does_not_hold_its_model_id(stack):
    """A worker killed mid-training cannot release its claim; once its task has ended (here:
    its record is gone), the id is free again and the claim counts for no cap."""
    import redis

    from vokaflow.store.keys import Keys
    from vokaflow.vicky.datasets import owner_folder
    from vokaflow.vicky.trained import TrainedEntry, internal_id

    owner = f"vicky-dead-{uuid.uuid4().hex[:6]}"
    folder = owner_folder(stack.home, owner)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken.jsonl").write_text("not JSON\n")
    claim = TrainedEntry(internal_id(owner, "ghost"), owner, "ghost", "task-that-died")
    store = redis.Redis.from_url(stack.redis_url, decode_responses=True)
    models = Keys(stack.key_prefix, 16).trained_models
    store.hset(models, claim.key, claim.to_json())
    with user_client(stack, owner) as client:
        task = submit(client, "vicky_training", "tiny", "broken.jsonl", "ghost", retry_count=0)
        done = wait_until(client, task["task_id"], timeout_s=120)
    assert done["status"] == "failed" and done["error"]["type"] == "JSONDecodeError", done
    assert store.hget(models, claim.key) is None, "taken over, then released by the failure"


@pytest.mark.parametrize("new_id", ["../escape", "/abs", "a b"])
def test_an_unsafe_new_model_id_is_refused_at_submit(api, new_id):
    reply = api.post(
        "/api/high-scale-tasks/submit",
        json={"name": "t", "function_name": "vicky_training", "args": ["tiny", "x", new_id]},
    )
    assert reply.status_code == 400
    assert reply.json()["details"]["field"] == "args[2]"


@pytest.mark.parametrize(
    ("function_name", "kwargs", "field"),
    [
        ("vicky_inference", {"text": "hi", "personality": "pirate"}, "kwargs.personality"),
        ("vicky_inference", {"text": "hi", "temperature": "hot"}, "kwargs.temperature"),
        (
            "vicky_chat",
            {"messages": [{"role": "robot", "content": "x"}]},
            "kwargs.messages[0].role",
        ),
        ("vicky_chat", {"messages": "hello"}, "kwargs.messages"),
    ],
)
def test_vicky_task_arguments_of_the_wrong_kind_get_400_naming_the_field(
    api, function_name, kwargs, field
):
    reply = api.post(
        "/api/high-scale-tasks/submit",
        json={"name": "t", "function_name": function_name, "kwargs": kwargs},
    )
    assert reply.status_code == 400, reply.text
    assert reply.json()["details"]["field"] == field
