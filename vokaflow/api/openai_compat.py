"""OpenAI-compatible routes, so that the official `openai` package works with
``base_url=http://HOST:8000/v1`` and a VokaFlow API key: ``POST /v1/chat/completions``
(streamed or not), ``GET /v1/models`` and ``GET /v1/models/{model}``."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from vokaflow.api.deps import PrincipalDep, ServicesDep
from vokaflow.api.schemas.common import ErrorBody
from vokaflow.api.schemas.openai_compat import (
    ChatCompletion,
    Choice,
    CompletionRequest,
    ModelCard,
    ModelList,
    Usage,
)
from vokaflow.api.schemas.vicky import ChatMessage
from vokaflow.api.services import Services
from vokaflow.api.vicky import SSE_HEADERS, STREAM_RESPONSE, sse, stream_error
from vokaflow.errors import NotFound, ValidationFailed
from vokaflow.vicky.trained import VisibleModels

router = APIRouter(prefix="/v1", tags=["openai"])


def _request(body: CompletionRequest, max_new_tokens: int) -> dict[str, Any]:
    return {
        "messages": [m.plain() for m in body.messages],
        "max_tokens": body.max_completion_tokens or body.max_tokens or max_new_tokens,
        "temperature": body.temperature,
        "top_p": body.top_p,
        "seed": body.seed,
    }


def _usage(answer: dict[str, Any]) -> Usage:
    prompt, completion = int(answer["prompt_tokens"]), int(answer["completion_tokens"])
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


@router.post("/chat/completions", response_model=ChatCompletion, responses=STREAM_RESPONSE)
async def chat_completions(
    body: CompletionRequest, services: ServicesDep, principal: PrincipalDep
) -> Any:
    if not any(m.role == "user" for m in body.messages):
        raise ValidationFailed("messages", "at least one message must have the role 'user'")
    spec = await services.vicky.spec(principal, body.model)
    request = _request(body, spec.max_new_tokens)
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if body.stream:
        pieces = services.vicky.stream(spec, request)
        first = await anext(pieces)
        with_usage = body.stream_options is not None and body.stream_options.include_usage
        chunks = _chunks(_ChunkHead(completion_id, created, body.model, with_usage), first, pieces)
        return StreamingResponse(chunks, media_type="text/event-stream", headers=SSE_HEADERS)
    answer = await services.vicky.complete(spec, request)
    return ChatCompletion(
        id=completion_id,
        created=created,
        model=body.model,
        choices=[
            Choice(
                index=0,
                message=ChatMessage(role="assistant", content=answer["text"]),
                finish_reason=answer["finish_reason"],
            )
        ],
        usage=_usage(answer),
        system_fingerprint=str(answer["model_version"]),
    )


@dataclass(frozen=True)
class _ChunkHead:
    completion_id: str
    created: int
    model: str
    with_usage: bool  # stream_options.include_usage

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> str:
        choices = [{"index": 0, "delta": delta, "finish_reason": finish}]
        return sse(self._body(choices, None))

    def usage(self, usage: Usage) -> str:
        return sse(self._body([], usage.model_dump()))

    def _body(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.completion_id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }
        if self.with_usage:
            body["usage"] = usage
        return body


async def _chunks(
    head: _ChunkHead, first: dict[str, Any], rest: AsyncGenerator[dict[str, Any], None]
) -> AsyncIterator[str]:
    """As OpenAI streams: the role, the content deltas, the finish reason, the usage (only
    with stream_options.include_usage, in a chunk of its own with no choices), [DONE]. An
    error after the first byte (the model's deadline too) is an ``error`` object, which the
    openai package raises."""
    yield head.chunk({"role": "assistant", "content": ""})
    item: dict[str, Any] | None = first
    try:
        while item is not None:
            if item.get("done"):
                yield head.chunk({}, item["finish_reason"])
                if head.with_usage:
                    yield head.usage(_usage(item))
            else:
                yield head.chunk({"content": item["delta"]})
            item = await anext(rest, None)
    except Exception as exc:
        error = stream_error(exc)
        yield sse({"error": {"message": error.message, "type": "server_error", "code": error.code}})
    finally:
        await rest.aclose()
    yield sse("[DONE]")


@router.get("/models", response_model=ModelList)
async def list_models(services: ServicesDep, principal: PrincipalDep) -> ModelList:
    """The models this principal may use that are deployed and can answer now: the base
    models, its own fine-tuned ones and, for an admin, everyone's."""
    models = await services.models.visible(principal)
    return ModelList(
        data=[
            _card(services, models, model_id)
            for model_id in models.ids()
            if await services.models.is_deployed(models.get(model_id).model_id)
        ]
    )


@router.get("/models/{model_id}", response_model=ModelCard, responses={404: {"model": ErrorBody}})
async def retrieve_model(
    model_id: str, services: ServicesDep, principal: PrincipalDep
) -> ModelCard:
    """One model of the list; 404 for any other, another principal's fine-tuned model too."""
    models = await services.models.visible(principal, model_id)
    if model_id not in models or not await services.models.is_deployed(
        models.get(model_id).model_id
    ):
        raise NotFound(f"No model '{model_id}'")
    return _card(services, models, model_id)


def _card(services: Services, models: VisibleModels, model_id: str) -> ModelCard:
    owner = models.owners.get(model_id, "vokaflow")
    return ModelCard(id=model_id, created=int(services.started_at), owned_by=owner)
