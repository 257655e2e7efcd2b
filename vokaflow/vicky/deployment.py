"""One Ray Serve deployment per model in use: it loads the weights once, batches concurrent
requests into one padded generation with @serve.batch, and streams tokens.

Each model is its own Serve application, ``vicky-<model id>`` with one deployment
``model`` and no HTTP route: the gateway, the task functions and the OpenAI-compatible
routes reach it through a DeploymentHandle. A new (fine-tuned) model is a new application,
deployed without touching the others.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import ray
from ray import serve
from ray.serve.deployment import Application

from vokaflow.vicky.registry import ModelRegistry, ModelSpec

log = logging.getLogger("vokaflow.vicky")

DEPLOYMENT_NAME = "model"
BATCH_WAIT_S = 0.01  # how long the first request of a batch waits for company


def app_name(model_id: str) -> str:
    return f"vicky-{model_id}"


def spec_wire(spec: ModelSpec) -> dict[str, Any]:
    return dataclasses.asdict(spec)


@serve.deployment(name=DEPLOYMENT_NAME, max_ongoing_requests=64)
class VickyModel:
    """A model's replica. Requests are plain dicts so that callers need no torch:
    ``{"messages": [...], "max_tokens": N, "temperature": T, "top_p": P}``."""

    def __init__(self, wire: dict[str, Any]) -> None:
        # torch loads in the replica only: the gateway imports this module for its names
        from vokaflow.vicky.loader import WeightsMissing, load_model

        self.spec = ModelSpec(**wire)
        self.node = f"{socket.gethostname()}:{ray.get_runtime_context().get_node_id()[:12]}"
        self.error: str | None = None
        self.loaded: Any = None
        try:
            self.loaded = load_model(self.spec)
        except WeightsMissing as exc:
            self.error = str(exc)
            log.error("model %s cannot serve: %s", self.spec.model_id, exc)
        self._generate.set_max_batch_size(self.spec.max_batch_size)  # type: ignore[attr-defined]

    async def describe(self) -> dict[str, Any]:
        return {
            "model_id": self.spec.model_id,
            "version": self.spec.version,
            "ready": self.loaded is not None,
            "error": self.error,
            "node": self.node,
            "max_new_tokens": self.spec.max_new_tokens,
        }

    async def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        """One chat completion, batched with whatever else arrives at the same time."""
        if self.loaded is None:
            return {"error": "weights_missing", "message": self.error}
        started = time.perf_counter()
        try:  # templates and tokenizing long chats take a while: off the event loop
            generation, kept = await asyncio.to_thread(self._request, request)
        except ValueError as exc:  # a prompt too long for the window, or bad sampling values
            return {"error": "bad_request", "message": str(exc)}
        result = await self._generate(generation)
        return self._answer(result, kept, time.perf_counter() - started)

    async def stream(self, request: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Text deltas as they are generated, then the whole answer with ``done``."""
        if self.loaded is None:
            yield {"error": "weights_missing", "message": self.error}
            return
        from vokaflow.vicky.generation import stream_generate  # torch: replica only

        started = time.perf_counter()
        try:
            generation, kept = await asyncio.to_thread(self._request, request)
        except ValueError as exc:
            yield {"error": "bad_request", "message": str(exc)}
            return
        text_stream = stream_generate(self.loaded, generation)
        async for delta in _in_thread(text_stream):
            yield {"delta": delta}
        answer = self._answer(text_stream.result, kept, time.perf_counter() - started)
        yield {"done": True, **answer}

    def _request(self, request: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
        from vokaflow.vicky.generation import (  # torch: replica only
            GenerationRequest,
            chat_prompt_ids,
        )

        max_tokens = min(int(request["max_tokens"]), self.spec.max_new_tokens)
        ids, kept = chat_prompt_ids(self.loaded, request["messages"], max_tokens)
        generation = GenerationRequest(
            prompt_ids=ids,
            max_new_tokens=max_tokens,
            temperature=float(request.get("temperature", 0.7)),
            top_p=float(request.get("top_p", 1.0)),
            seed=request.get("seed"),
        )
        return generation, kept

    def _answer(self, result: Any, kept: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
        return {
            "text": result.text,
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "confidence": result.confidence,
            "finish_reason": result.finish_reason,
            "messages_kept": len(kept),
            "model_version": self.spec.version,
            "processing_node": self.node,
            "execution_time": seconds,
        }

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=BATCH_WAIT_S)
    async def _generate(self, requests: list[Any]) -> list[Any]:
        from vokaflow.vicky.generation import generate_batch  # torch: replica only

        # In a thread: the replica keeps taking requests (the next batch) while this runs.
        return await asyncio.to_thread(generate_batch, self.loaded, requests)


async def _in_thread(items: Iterator[str]) -> AsyncIterator[str]:
    """Iterate a blocking iterator in a worker thread, one item at a time."""
    done = object()
    while True:
        item = await asyncio.to_thread(next, items, done)
        if item is done:
            return
        yield str(item)


def deployment_options(spec: ModelSpec, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Serve options from the registry entry; ``overrides`` (a deployments/*.yaml entry's
    fields) win."""
    options: dict[str, Any] = {
        "ray_actor_options": {"num_cpus": spec.num_cpus, "num_gpus": spec.num_gpus},
        "max_ongoing_requests": 4 * spec.max_batch_size,
        "autoscaling_config": {
            "min_replicas": 1,
            "max_replicas": 1 if spec.num_gpus == 0 else 4,
            "target_ongoing_requests": spec.max_batch_size,
        },
    }
    options.update(overrides or {})
    return options


def model_app(spec: ModelSpec, overrides: dict[str, Any] | None = None) -> Application:
    deployment = VickyModel.options(**deployment_options(spec, overrides))  # type: ignore[attr-defined]
    application: Application = deployment.bind(spec_wire(spec))
    return application


def deploy_model(spec: ModelSpec, overrides: dict[str, Any] | None = None) -> None:
    """Deploy (or update) the model's application; returns once it is running."""
    serve.run(model_app(spec, overrides), name=app_name(spec.model_id), route_prefix=None)


def app_builder(args: dict[str, Any]) -> Application:
    """For ``serve deploy deployments/*.yaml``: ``args: {model: ID}``."""
    return model_app(ModelRegistry().get(str(args["model"])))


def undeploy_model(model_id: str) -> None:
    """Remove the model's Serve application, if there is one."""
    from ray import serve

    if app_name(model_id) in serve.status().applications:
        serve.delete(app_name(model_id))
