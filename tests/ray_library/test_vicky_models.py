"""Vicky's model layer on the tiny Qwen2 model built locally (no hub, no GPU, no Ray)."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from models import build_tiny
from vokaflow.errors import ServiceUnavailable
from vokaflow.vicky import client as vicky_client
from vokaflow.vicky.generation import (
    GenerationRequest,
    IncrementalDecoder,
    PromptTooLong,
    chat_prompt_ids,
    count_tokens,
    generate_batch,
    prompt_ids,
    stream_generate,
)
from vokaflow.vicky.loader import LoadedModel, WeightsMissing, load_model
from vokaflow.vicky.registry import REPO_ROOT, ModelRegistry, ModelSpec, UnknownModel
from vokaflow.vicky.trained import (
    TrainedEntry,
    VisibleModels,
    internal_id,
    read_entries,
)
from vokaflow.vicky.training import check_fits_in_memory, fine_tune, trained_spec
from vokaflow.vicky.weights import parameter_count

TINY = {
    "dtype": "float32",
    "device": "cpu",
    "max_batch_size": 16,
    "max_new_tokens": 64,
    "context_window": 512,
    "version": "tiny-test",
}


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny.build(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def registry(tiny_dir: Path) -> ModelRegistry:
    return ModelRegistry(extra={"tiny": {"source": str(tiny_dir), **TINY}})


@pytest.fixture(scope="module")
def tiny(registry: ModelRegistry) -> LoadedModel:
    return load_model(registry.get("tiny"))


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model layer tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def ask(tiny: LoadedModel, text: str, max_new_tokens: int, **kw: object) -> GenerationRequest:
    return GenerationRequest(prompt_ids(tiny, text, "Eres Vicky."), max_new_tokens, **kw)  # type: ignore[arg-type]


def test_the_repo_registry_lists_the_tiny_model_and_the_qwen_models() -> None:
    registry = ModelRegistry()
    assert {"tiny", "qwen_0_5b", "qwen_1_5b", "qwen_3b", "qwen_7b"} <= set(registry.ids())
    tiny = registry.get("tiny")
    assert tiny.source == str(REPO_ROOT / "models" / "tiny")
    assert (tiny.num_gpus, tiny.max_batch_size, tiny.context_window) == (0, 16, 512)
    qwen = registry.get("qwen_7b")
    assert qwen.source == "Qwen/Qwen2.5-7B-Instruct" and not qwen.is_local
    assert (qwen.dtype, qwen.num_gpus, qwen.max_batch_size) == ("bfloat16", 1, 8)
    assert (qwen.max_new_tokens, qwen.context_window, qwen.chat_template) == (1024, 32768, None)


def test_the_registry_file_can_be_overridden_by_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text("models:\n  mine:\n    source: ./weights\n    version: 7\n")
    monkeypatch.setenv("VOKAFLOW_MODEL_REGISTRY", str(path))
    registry = ModelRegistry()
    assert registry.ids() == ["mine"]
    assert registry.get("mine").source == str(REPO_ROOT / "weights")
    assert registry.get("mine").version == "7"


def test_an_unknown_model_id_raises_UnknownModel_listing_the_known_ids(
    registry: ModelRegistry,
) -> None:
    with pytest.raises(UnknownModel) as raised:
        registry.get("gpt-5")
    assert raised.value.model_id == "gpt-5"
    assert "tiny" in raised.value.known_ids and "qwen_7b" in raised.value.known_ids
    assert "gpt-5" in str(raised.value) and "qwen_7b" in str(raised.value)


def test_the_tiny_model_loads_through_the_registry_like_a_real_one(
    registry: ModelRegistry, tiny: LoadedModel
) -> None:
    assert type(tiny.model).__name__ == "Qwen2ForCausalLM"
    assert not tiny.model.training
    assert tiny.device == torch.device("cpu") and tiny.dtype == torch.float32
    assert tiny.spec == registry.get("tiny")
    vocab = tiny.tokenizer.get_vocab()
    assert {vocab["<|im_end|>"], vocab["<|endoftext|>"]} <= tiny.stop_token_ids
    assert 1000 <= len(tiny.tokenizer) <= 2000


def test_a_missing_directory_raises_WeightsMissing_naming_the_model_and_directory(
    tmp_path: Path, no_network: None
) -> None:
    spec = ModelSpec("ghost", str(tmp_path / "nowhere"))
    with pytest.raises(WeightsMissing) as raised:
        load_model(spec)
    assert raised.value.looked_in == [str(tmp_path / "nowhere")]
    assert "ghost" in str(raised.value) and str(tmp_path / "nowhere") in str(raised.value)


def test_a_hub_id_not_in_the_cache_raises_WeightsMissing_quickly_without_network(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    spec = ModelRegistry().get("qwen_7b")
    started = time.monotonic()
    with pytest.raises(WeightsMissing) as raised:
        load_model(spec)
    assert time.monotonic() - started < 2
    expected = str(tmp_path / "hub" / "models--Qwen--Qwen2.5-7B-Instruct")
    assert raised.value.looked_in == [expected]
    assert "qwen_7b" in str(raised.value) and expected in str(raised.value)


def test_a_hub_id_in_the_local_cache_loads_from_its_snapshot(
    tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    from huggingface_hub import constants

    repo = tmp_path / "hub" / "models--acme--tiny-chat"
    snapshot = repo / "snapshots" / ("ab" * 20)
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to(tiny_dir, target_is_directory=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("ab" * 20)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    loaded = load_model(ModelSpec("acme", "acme/tiny-chat", dtype="float32", device="cpu"))
    assert generate_batch(loaded, [ask(loaded, "hi", 3)])[0].completion_tokens >= 1


def test_each_request_in_a_batch_gets_its_own_length(tiny: LoadedModel) -> None:
    lengths = [1, 5, 17, 32]
    results = generate_batch(tiny, [ask(tiny, f"Question {n}?", n) for n in lengths])
    for n, result in zip(lengths, results, strict=True):
        assert result.completion_tokens == len(result.token_ids)
        if result.finish_reason == "length":
            assert result.completion_tokens == n
        else:
            assert result.finish_reason == "stop" and result.token_ids[-1] in tiny.stop_token_ids


def test_greedy_results_in_a_padded_batch_equal_each_request_alone(tiny: LoadedModel) -> None:
    texts = ["Hola", "The worker finished after two seconds on the urgent queue.", "¿Qué tal?"]
    requests = [ask(tiny, text, 24) for text in texts]
    assert len({len(r.prompt_ids) for r in requests}) == 3  # so the batch is really padded
    batched = generate_batch(tiny, requests)
    for request, result in zip(requests, batched, strict=True):
        alone = generate_batch(tiny, [request])[0]
        assert result.token_ids == alone.token_ids
        assert result.text == alone.text


def test_seeded_sampling_repeats_whatever_the_batch(tiny: LoadedModel) -> None:
    sampled = ask(tiny, "Hola", 16, temperature=0.9, top_p=0.9, seed=42)
    alone = generate_batch(tiny, [sampled])[0]
    in_batch = generate_batch(tiny, [ask(tiny, "Another, longer prompt here", 8), sampled])[1]
    assert alone.token_ids == in_batch.token_ids


def test_confidence_is_a_probability(tiny: LoadedModel) -> None:
    requests = [
        ask(tiny, "Hola", 8),
        ask(tiny, "Hola", 8, temperature=1.0, top_p=1.0, seed=1),
        ask(tiny, "Hola", 8, temperature=0.7, top_p=0.5, seed=2),
    ]
    for result in generate_batch(tiny, requests):
        assert 0 < result.confidence <= 1


def test_streamed_deltas_join_to_the_greedy_text(tiny: LoadedModel) -> None:
    request = ask(tiny, "Cuéntame algo 😀", 40)
    expected = generate_batch(tiny, [request])[0]
    stream = stream_generate(tiny, request)
    deltas = list(stream)
    assert all(deltas) and "".join(deltas) == expected.text
    assert stream.result is not None and stream.result.token_ids == expected.token_ids


def test_incremental_decoding_never_splits_a_character(tiny: LoadedModel) -> None:
    text = "¡Hola, ñandú! 😀"
    byte_level = tiny.tokenizer.backend_tokenizer.pre_tokenizer
    pieces = [piece for piece, _ in byte_level.pre_tokenize_str(text)]
    vocab = tiny.tokenizer.get_vocab()
    one_byte_tokens = [vocab[char] for piece in pieces for char in piece]  # one token per byte
    decoder = IncrementalDecoder(tiny.tokenizer)
    deltas = [decoder.push(one_byte_tokens[: i + 1]) for i in range(len(one_byte_tokens))]
    deltas.append(decoder.flush())
    assert "".join(deltas) == text
    assert not any("\ufffd" in delta for delta in deltas)


def test_chat_trimming_keeps_the_system_prompt_and_last_user_message_within_the_window(
    tiny: LoadedModel,
) -> None:
    system = {"role": "system", "content": "Eres Vicky, la asistente de VokaFlow."}
    turns = []
    for i in range(30):
        turns.append({"role": "user", "content": f"Question {i}: " + "the task finished " * 3})
        turns.append({"role": "assistant", "content": f"Answer {i}: " + "la tarea terminó " * 3})
    last = {"role": "user", "content": "And the last question?"}
    messages = [system, *turns, last]
    ids, kept = chat_prompt_ids(tiny, messages, max_new_tokens=64)
    assert len(ids) + 64 <= tiny.spec.context_window
    assert kept[0] == system and kept[-1] == last
    assert 2 < len(kept) < len(messages)
    assert kept[1:] == messages[len(messages) - len(kept) + 1 :]  # the newest turns survive
    more = chat_prompt_ids(tiny, [system, *kept[2:]], max_new_tokens=64)[1]
    assert len(more) == len(kept) - 1  # nothing was dropped that did not have to be

    short = [system, {"role": "user", "content": "Hola"}]
    assert chat_prompt_ids(tiny, short, max_new_tokens=64)[1] == short
    with pytest.raises(PromptTooLong):
        chat_prompt_ids(tiny, [system, {"role": "user", "content": "palabra " * 600}], 64)


def test_a_prompt_that_fills_the_window_is_refused_and_new_tokens_are_capped(
    tiny: LoadedModel,
) -> None:
    with pytest.raises(PromptTooLong):
        generate_batch(tiny, [GenerationRequest([5] * 512, 4)])
    result = generate_batch(tiny, [GenerationRequest([5] * 508, 64)])[0]
    assert result.completion_tokens <= 4
    assert count_tokens(tiny, "Hola") >= 1


def test_training_lowers_the_loss_and_the_saved_model_loads_and_generates(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    answer = "¡Hola! ¿En qué puedo ayudarte hoy?"
    chat = {
        "messages": [
            {"role": "system", "content": "Eres Vicky."},
            {"role": "user", "content": "Hola"},
            {"role": "assistant", "content": answer},
        ]
    }
    dataset = tmp_path / "data.jsonl"
    dataset.write_text("\n".join(json.dumps(r) for r in [chat, {"text": "Buenos días."}] * 4))
    seen: list[tuple[int, int]] = []
    result = fine_tune(
        registry.get("tiny"),
        dataset,
        tmp_path / "out",
        steps=30,
        progress=lambda step, total, loss: seen.append((step, total)),
    )
    assert result.steps == 30 and len(result.losses) == 30 and seen[-1] == (30, 30)
    assert result.last_loss < result.first_loss / 2

    spec = trained_spec(registry.get("tiny"), "tiny-hola", result.out_dir, version="hola-1")
    loaded = load_model(replace(spec, device="cpu"))
    reply = generate_batch(
        loaded, [GenerationRequest(prompt_ids(loaded, "Hola", "Eres Vicky."), 20)]
    )
    assert reply[0].text == answer and reply[0].finish_reason == "stop"


def test_a_registry_chat_template_overrides_the_tokenizers_own(registry: ModelRegistry) -> None:
    template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    loaded = load_model(replace(registry.get("tiny"), chat_template=template))
    ids = prompt_ids(loaded, "Hola", "Eres Vicky.")
    assert loaded.tokenizer.decode(ids) == "[system] Eres Vicky.\n[user] Hola\n"


def test_a_top_p_too_small_for_float32_still_samples_the_top_token(tiny):
    from vokaflow.vicky.generation import GenerationRequest, generate_batch, prompt_ids

    ids = prompt_ids(tiny, "hello")
    [result] = generate_batch(
        tiny, [GenerationRequest(ids, max_new_tokens=3, temperature=0.7, top_p=5e-324)]
    )
    assert 1 <= result.completion_tokens <= 3 and 0 < result.confidence <= 1


def _trained(owner: str, name: str, base: ModelSpec) -> TrainedEntry:
    key = internal_id(owner, name)
    return TrainedEntry(key, owner, name, "task-1", replace(base, model_id=key))


def test_a_trained_model_is_its_owners_by_name_an_admins_by_internal_id_and_no_one_elses(
    registry: ModelRegistry,
) -> None:
    base = ModelRegistry()
    entry = _trained("alice", "bot", registry.get("tiny"))
    training = TrainedEntry(internal_id("alice", "next"), "alice", "next", "task-2")
    trained = read_entries({e.key: e.to_json() for e in (entry, training)})
    assert trained == [entry, training], "entries survive Redis as they were written"

    alice = VisibleModels(base, trained, "alice", is_admin=False)
    assert alice.get("bot") == entry.spec and alice.owners["bot"] == "alice"
    assert "next" not in alice, "a model still training is not usable yet"
    admin = VisibleModels(base, trained, "admin", is_admin=True)
    assert admin.get(entry.key) == entry.spec and "bot" not in admin
    assert admin.owners[entry.key] == "alice"

    bob = VisibleModels(base, trained, "bob", is_admin=False)
    for model_id in ("bot", entry.key):
        with pytest.raises(UnknownModel) as raised:
            bob.get(model_id)
        assert raised.value.known_ids == base.ids() == bob.ids()


def test_a_base_model_is_never_shadowed_and_legacy_entries_are_the_admins(
    registry: ModelRegistry,
) -> None:
    base = ModelRegistry()
    shadow = TrainedEntry("tiny", "alice", "tiny", "t", replace(registry.get("tiny"), version="x"))
    legacy = {"old": json.dumps({"source": "/models/old", "version": "old-1"})}
    trained = [shadow, *read_entries(legacy)]
    alice = VisibleModels(base, trained, "alice", is_admin=False)
    assert alice.get("tiny") == base.get("tiny") and "tiny" not in alice.owners
    assert "old" not in alice
    admin = VisibleModels(base, trained, "admin", is_admin=True)
    assert admin.get("old").source == "/models/old" and admin.owners["old"] == "admin"


def test_the_parameter_count_comes_from_the_safetensors_headers(
    tiny: LoadedModel, tiny_dir: Path
) -> None:
    assert parameter_count(tiny_dir) == sum(p.numel() for p in tiny.model.parameters())


def test_a_model_too_large_for_the_nodes_memory_is_refused_before_loading(
    registry: ModelRegistry, tmp_path: Path
) -> None:
    check_fits_in_memory(registry.get("tiny"), "tiny")
    huge = tmp_path / "huge"
    huge.mkdir()
    (huge / "config.json").write_text("{}")
    header = json.dumps({"w": {"dtype": "F32", "shape": [2**20, 2**20], "data_offsets": [0, 0]}})
    (huge / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header.encode())
    spec = ModelSpec("huge", str(huge), device="cpu")
    with pytest.raises(ValueError, match="'big' is too large to train here: it needs about"):
        check_fits_in_memory(spec, "big")


class _HungReplica:
    """A replica's stream that yields ``items``, one every ``every_s``, then nothing, ever."""

    def __init__(self, items: list[dict[str, Any]], every_s: float = 0.0, forever: bool = False):
        self.items, self.every_s, self.forever = items, every_s, forever
        self.cancelled = False

    def __aiter__(self) -> _HungReplica:
        return self

    async def __anext__(self) -> dict[str, Any]:
        await asyncio.sleep(self.every_s)
        if self.forever:
            return {"delta": "x"}
        if self.items:
            return self.items.pop(0)
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    def cancel(self) -> None:
        self.cancelled = True


class _DeployedEverywhere:
    async def is_deployed(self, model_id: str) -> bool:
        return True


@pytest.fixture
def hung_client(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A VickyClient with a 0.3 s deadline, whose model streams what the test sets."""

    def make(replica: _HungReplica) -> vicky_client.VickyClient:
        stream = SimpleNamespace(remote=lambda request: replica)
        handle = SimpleNamespace(options=lambda **options: SimpleNamespace(stream=stream))
        monkeypatch.setattr(vicky_client.serve, "get_deployment_handle", lambda *a, **k: handle)
        return vicky_client.VickyClient(_DeployedEverywhere(), timeout_s=0.3)  # type: ignore[arg-type]

    return make


async def _drain(chunks: Any) -> list[str]:
    return [chunk async for chunk in chunks]


@pytest.mark.parametrize(
    "replica",
    [
        _HungReplica([{"delta": "a"}]),  # one piece, then silence
        _HungReplica([], every_s=0.05, forever=True),  # pieces forever, each in time
    ],
    ids=["silent", "endless"],
)
async def test_a_stream_ends_with_service_unavailable_at_the_request_deadline(
    hung_client: Any, replica: _HungReplica
) -> None:
    client = hung_client(replica)
    started, items = time.monotonic(), []
    with pytest.raises(ServiceUnavailable, match=r"no answer within 0\.3 s") as raised:
        async for item in client.stream(ModelSpec("m", "/m"), {}):
            items.append(item)
    assert 0.25 < time.monotonic() - started < 1.0
    assert items[0] == {"delta": "a" if not replica.forever else "x"}
    assert raised.value.details is not None and raised.value.details["component"] == "vicky:m"
    assert replica.cancelled, "the replica is told to stop"


async def test_the_sse_routes_end_a_late_stream_with_an_error_event_then_done(
    hung_client: Any,
) -> None:
    from vokaflow.api.openai_compat import _ChunkHead, _chunks
    from vokaflow.api.vicky import _streamed

    async def final(answer: dict[str, Any]) -> dict[str, Any]:
        raise AssertionError("a late stream has no final answer")

    spec = ModelSpec("m", "/m")
    services = SimpleNamespace(vicky=hung_client(_HungReplica([{"delta": "a"}])))
    response = await asyncio.wait_for(_streamed(services, spec, {}, final), 1)  # type: ignore[arg-type]
    events = await asyncio.wait_for(_drain(response.body_iterator), 1)
    assert events[0] == 'data: {"delta": "a"}\n\n' and events[-1] == "data: [DONE]\n\n"
    head, data = events[1].split("\n")[:2]
    error = json.loads(data.removeprefix("data: "))
    assert head == "event: error" and error["error"] == "service_unavailable"
    assert "no answer within 0.3 s" in error["message"]

    pieces = hung_client(_HungReplica([{"delta": "a"}])).stream(spec, {})
    first = await anext(pieces)
    chunks = _chunks(_ChunkHead("c", 0, "m", False), first, pieces)
    events = await asyncio.wait_for(_drain(chunks), 1)
    error = json.loads(events[-2].removeprefix("data: "))["error"]
    assert error["code"] == "service_unavailable" and "no answer within" in error["message"]
    assert events[-1] == "data: [DONE]\n\n"


async def test_a_stream_whose_first_piece_is_late_is_a_503_before_any_byte(
    hung_client: Any,
) -> None:
    from vokaflow.api.vicky import _streamed

    services = SimpleNamespace(vicky=hung_client(_HungReplica([])))
    with pytest.raises(ServiceUnavailable, match="no answer within"):
        await asyncio.wait_for(
            _streamed(services, ModelSpec("m", "/m"), {}, None),  # type: ignore[arg-type]
            1,
        )
