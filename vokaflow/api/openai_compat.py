"""OpenAI-compatible routes, so that the official `openai` package works with
``base_url=http://HOST:8000/v1`` and a VokaFlow API key: ``POST /v1/chat/completions``
(streamed or not) and ``GET /v1/models``."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from vokaflow.api.deps import PrincipalDep, ServicesDep
from vokaflow.api.vicky import SSE_HEADERS, STREAM_RESPONSE, sse
from vokaflow.errors import ValidationFailed
from vokaflow.schemas import ChatMessage

router = APIRouter(prefix="/v1", tags=["openai"])


class CompletionRequest(BaseModel):
    # The openai package sends fields this service does not use (stream_options, user...).
    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=8192)
    temperature: float = Field(default=1.0, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    n: int = Field(default=1, ge=1, le=1)
    stream: bool = False
    seed: int | None = None


class Choice(BaseModel):
    index: int
    message: ChatMessage
    finish_reason: str


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    system_fingerprint: str | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def _request(body: CompletionRequest, max_new_tokens: int) -> dict[str, Any]:
    return {
        "messages": [m.model_dump() for m in body.messages],
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
    spec = await services.vicky.spec(body.model)
    request = _request(body, spec.max_new_tokens)
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    if body.stream:
        pieces = services.vicky.stream(body.model, request)
        first = await anext(pieces)
        chunks = _chunks(completion_id, created, body.model, first, pieces)
        return StreamingResponse(chunks, media_type="text/event-stream", headers=SSE_HEADERS)
    answer = await services.vicky.complete(body.model, request)
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


async def _chunks(
    completion_id: str,
    created: int,
    model: str,
    first: dict[str, Any],
    rest: AsyncIterator[dict[str, Any]],
) -> AsyncIterator[str]:
    """``chat.completion.chunk`` events: the role, the content deltas, the finish reason
    with the usage, then ``[DONE]``, as OpenAI streams them."""

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return sse(body)

    yield chunk({"role": "assistant", "content": ""})
    item: dict[str, Any] | None = first
    while item is not None:
        if item.get("done"):
            yield chunk({}, item["finish_reason"], usage=_usage(item).model_dump())
        else:
            yield chunk({"content": item["delta"]})
        item = await anext(rest, None)
    yield sse("[DONE]")


@router.get("/models", response_model=ModelList)
async def list_models(services: ServicesDep, principal: PrincipalDep) -> ModelList:
    """The models that are deployed and can answer now."""
    registry = await services.models.registry()
    deployed = [m for m in registry.ids() if await services.models.is_deployed(m)]
    created = int(services.started_at)
    return ModelList(data=[ModelCard(id=m, created=created, owned_by="vokaflow") for m in deployed])
