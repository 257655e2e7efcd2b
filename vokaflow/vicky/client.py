"""How the gateway (and the OpenAI-compatible routes) talk to the model deployments:
check the model and personality, find the deployment, complete or stream."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any

from ray import serve
from ray.exceptions import RayError
from ray.serve.exceptions import RayServeException

from vokaflow import tracing
from vokaflow.domain.principal import Principal
from vokaflow.errors import ServiceUnavailable, ValidationFailed
from vokaflow.vicky.catalog import ModelCatalog
from vokaflow.vicky.deployment import DEPLOYMENT_NAME, app_name
from vokaflow.vicky.personalities import Personality, personalities
from vokaflow.vicky.registry import ModelSpec, UnknownModel
from vokaflow.vicky.weights import WeightsMissing, weights_dir

# A replica that died, an app deleted meanwhile, a batch that failed on the replica: the
# model is unavailable, not the gateway broken.
SERVING_ERRORS = (RayError, RayServeException)


def personality(name: str) -> Personality:
    known = personalities()
    if name not in known:
        raise ValidationFailed(
            "personality", f"Unknown personality '{name}'. Known: {', '.join(sorted(known))}"
        )
    return known[name]


class VickyClient:
    def __init__(self, catalog: ModelCatalog, timeout_s: float) -> None:
        self.catalog = catalog
        self.timeout_s = timeout_s  # for a whole answer, streamed or not

    async def spec(self, principal: Principal, model_id: str, field: str = "model") -> ModelSpec:
        """The model ``principal`` calls ``model_id``; another principal's fine-tuned model
        gets the same 400 as a model that does not exist."""
        models = await self.catalog.visible(principal, model_id)
        try:
            return models.get(model_id)
        except UnknownModel as exc:
            known = ", ".join(exc.known_ids)
            raise ValidationFailed(
                field, f"Unknown model '{model_id}'. Known models: {known}"
            ) from None

    async def _handle(self, spec: ModelSpec) -> Any:
        model_id = spec.model_id
        if not await self.catalog.is_deployed(model_id):
            try:
                await asyncio.to_thread(weights_dir, spec)
            except WeightsMissing as missing:
                raise _unavailable(model_id, str(missing)) from None
            raise _unavailable(
                model_id,
                f"Model '{model_id}' is registered but not deployed on this cluster; "
                "add it to VOKAFLOW_VICKY_MODELS (or deploy deployments/*.yaml)",
            )
        # is_deployed has checked: skip the handle's own (blocking) existence check
        return serve.get_deployment_handle(
            DEPLOYMENT_NAME, app_name=app_name(model_id), _check_exists=False
        )

    async def complete(
        self, spec: ModelSpec, request: dict[str, Any], prompt_field: str = "messages"
    ) -> dict[str, Any]:
        with tracing.maybe_span("vicky request", {"vokaflow.model": spec.model_id}):
            handle = await self._handle(spec)
            response = handle.complete.remote(request)
            try:
                answer: dict[str, Any] = await asyncio.wait_for(response, self.timeout_s)
            except asyncio.TimeoutError:
                response.cancel()
                raise self._late(spec) from None
            except SERVING_ERRORS as exc:
                raise _failed(spec, exc) from exc
            return _checked(spec.model_id, answer, prompt_field)

    async def stream(
        self, spec: ModelSpec, request: dict[str, Any], prompt_field: str = "messages"
    ) -> AsyncGenerator[dict[str, Any], None]:
        """The replica's items, all within ``timeout_s`` of the call like a whole answer:
        past it, the ServiceUnavailable a late answer gets. Stopped (and the replica told)
        when the caller stops or the time is up."""
        with tracing.maybe_span("vicky request", {"vokaflow.model": spec.model_id}):
            handle = await self._handle(spec)
        responses = handle.options(stream=True).stream.remote(request)
        deadline = time.monotonic() + self.timeout_s
        try:
            while True:
                try:
                    item = await asyncio.wait_for(
                        anext(responses), max(0.0, deadline - time.monotonic())
                    )
                except StopAsyncIteration:
                    return
                except asyncio.TimeoutError:
                    raise self._late(spec) from None
                except SERVING_ERRORS as exc:
                    raise _failed(spec, exc) from exc
                yield _checked(spec.model_id, item, prompt_field)
        finally:
            responses.cancel()

    def _late(self, spec: ModelSpec) -> ServiceUnavailable:
        return _unavailable(spec.model_id, f"no answer within {self.timeout_s:g} s")


def _checked(model_id: str, answer: dict[str, Any], prompt_field: str) -> dict[str, Any]:
    """The replica's answer, or its refusal as the API's error: a request the model cannot
    take (too long for its window) is the caller's 400; missing weights are a 503."""
    error = answer.get("error")
    if error == "bad_request":
        raise ValidationFailed(prompt_field, str(answer.get("message")))
    if error:
        raise _unavailable(model_id, str(answer.get("message") or error))
    return answer


def _failed(spec: ModelSpec, exc: BaseException) -> ServiceUnavailable:
    return _unavailable(spec.model_id, f"the model's replica failed: {type(exc).__name__}")


def _unavailable(model_id: str, message: str) -> ServiceUnavailable:
    return ServiceUnavailable(f"vicky:{model_id}", message, 60.0)
