"""/api/vicky: inference, chat (with sessions) and the personalities; SSE when streaming."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from vokaflow.api.deps import PrincipalDep, ServicesDep
from vokaflow.api.errors import unavailable
from vokaflow.api.schemas.vicky import (
    ChatMessage,
    InferenceParameters,
    PersonalitiesResponse,
    PersonalityInfo,
    VickyChatRequest,
    VickyChatResponse,
    VickyInferenceMetadata,
    VickyInferenceRequest,
    VickyInferenceResponse,
)
from vokaflow.api.services import Services
from vokaflow.errors import ApiError, InternalError
from vokaflow.store.errors import StoreUnavailable
from vokaflow.vicky.client import personality
from vokaflow.vicky.personalities import personalities
from vokaflow.vicky.registry import ModelSpec

log = logging.getLogger("vokaflow.api")
router = APIRouter(prefix="/api/vicky", tags=["vicky"])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
STREAM_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "SSE when `stream` is true"}
}
FinalBody = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def generation_request(
    messages: list[dict[str, Any]], parameters: InferenceParameters
) -> dict[str, Any]:
    return {
        "messages": messages,
        "max_tokens": parameters.max_tokens,
        "temperature": parameters.temperature,
        "top_p": parameters.top_p,
    }


def sse(data: Any, event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data) if not isinstance(data, str) else data}\n\n"


def stream_error(exc: Exception) -> ApiError:
    """The API error an exception in the middle of a stream stands for."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, StoreUnavailable):
        return unavailable(exc)
    error = InternalError()
    log.error("%s in a stream", error.error_id, exc_info=exc)
    return error


def _answer_fields(answer: dict[str, Any], model: str, personality: str) -> dict[str, Any]:
    """What an inference and a chat response both say of the model's answer."""
    return {
        "model_used": model,
        "personality": personality,
        "tokens_used": int(answer["prompt_tokens"]) + int(answer["completion_tokens"]),
        "execution_time": round(float(answer["execution_time"]), 6),
        "confidence": round(float(answer["confidence"]), 6),
        "metadata": VickyInferenceMetadata(
            model_version=str(answer["model_version"]),
            processing_node=str(answer["processing_node"]),
        ),
    }


@router.post("/inference", response_model=VickyInferenceResponse, responses=STREAM_RESPONSE)
async def inference(
    body: VickyInferenceRequest, services: ServicesDep, principal: PrincipalDep
) -> Any:
    """One prompt, one answer, with the personality's system prompt before it."""
    character = personality(body.personality)
    model = body.model or services.settings.vicky_default_model
    spec = await services.vicky.spec(principal, model)
    messages = [
        {"role": "system", "content": character.system_prompt},
        {"role": "user", "content": body.text},
    ]
    request = generation_request(messages, body.parameters)

    def response(answer: dict[str, Any]) -> VickyInferenceResponse:
        return VickyInferenceResponse(
            response=answer["text"], **_answer_fields(answer, model, body.personality)
        )

    if body.stream:

        async def final(answer: dict[str, Any]) -> dict[str, Any]:
            return response(answer).model_dump()

        return await _streamed(services, spec, request, final, "text")
    return response(await services.vicky.complete(spec, request, "text"))


@router.post("/chat", response_model=VickyChatResponse, responses=STREAM_RESPONSE)
async def chat(body: VickyChatRequest, services: ServicesDep, principal: PrincipalDep) -> Any:
    """A conversation turn. With a session id, earlier turns come from the session."""
    character = personality(body.personality)
    model = body.model or services.settings.vicky_default_model
    spec = await services.vicky.spec(principal, model)
    session_id = body.session_id or f"session_{uuid.uuid4().hex}"
    history = await services.chat_sessions.history(principal.name, session_id)
    new_messages = [m.model_dump() for m in body.messages]
    messages = [{"role": "system", "content": character.system_prompt}, *history, *new_messages]
    request = generation_request(messages, body.parameters)

    async def response(answer: dict[str, Any]) -> VickyChatResponse:
        reply = {"role": "assistant", "content": answer["text"]}
        # The session keeps the turns the model still sees (the window trims the oldest),
        # and not the request's own system messages, which apply to that request only.
        kept_turns = (
            int(answer["messages_kept"]) - 1 - sum(m["role"] == "system" for m in new_messages)
        )
        turns = [m for m in new_messages if m["role"] != "system"]
        await services.chat_sessions.append(
            principal.name, session_id, [*turns, reply], keep=max(2, kept_turns + 1)
        )
        return VickyChatResponse(
            message=ChatMessage(**reply),
            session_id=session_id,
            **_answer_fields(answer, model, body.personality),
        )

    if body.stream:

        async def final(answer: dict[str, Any]) -> dict[str, Any]:
            return (await response(answer)).model_dump()

        return await _streamed(services, spec, request, final)
    return await response(await services.vicky.complete(spec, request))


async def _streamed(
    services: Services,
    spec: ModelSpec,
    request: dict[str, Any],
    final: FinalBody,
    prompt_field: str = "messages",
) -> StreamingResponse:
    """SSE: ``data: {"delta": ...}`` per piece of text, then ``event: done`` with the whole
    response body, then ``data: [DONE]``. Errors before the first byte are normal HTTP
    errors; an error after it (the model's deadline too) is an ``event: error`` whose data
    is the error body that status would have carried."""
    pieces = services.vicky.stream(spec, request, prompt_field)
    first = await anext(pieces)  # a missing model fails here, as a proper 4xx/503

    async def events() -> AsyncIterator[str]:
        item: dict[str, Any] | None = first
        try:
            while item is not None:
                if item.get("done"):
                    yield sse(await final(item), "done")
                else:
                    yield sse({"delta": item["delta"]})
                item = await anext(pieces, None)
        except Exception as exc:  # the status line has gone out: say it in the stream
            yield sse(stream_error(exc).to_body(), "error")
        finally:
            await pieces.aclose()  # a client that left stops the generation too
        yield sse("[DONE]")

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


@router.get("/personalities", response_model=PersonalitiesResponse)
async def list_personalities(services: ServicesDep, principal: PrincipalDep) -> Any:
    found = [
        PersonalityInfo(name=p.name, description=p.description, system_prompt=p.system_prompt)
        for p in personalities().values()
    ]
    return PersonalitiesResponse(personalities=found, count=len(found))
