"""``vicky`` functions: Vicky as tasks. Inference and chat go to the model's Serve
deployment through a DeploymentHandle (a task worker never loads a second copy of a
model); training fine-tunes a model here and deploys the result as a new model of the
task's owner (see vokaflow.vicky.trained: no other key sees it, admins excepted)."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field
from typing_extensions import TypedDict

from vokaflow.domain import WorkerType
from vokaflow.functions.context import TaskContext, current_task
from vokaflow.functions.registry import function
from vokaflow.vicky.datasets import check_model_id, open_dataset
from vokaflow.vicky.personalities import personalities
from vokaflow.vicky.trained import VisibleModels

DEFAULT_MODEL = "qwen_7b"

Prompt = Annotated[str, Field(min_length=1, max_length=100_000)]
ModelName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
# a name, or (for an admin) another principal's model by its internal id (vicky.trained)
ModelId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}(@[0-9a-f]{16})?$")]
MaxTokens = Annotated[int, Field(ge=1, le=8192)]
Temperature = Annotated[float, Field(ge=0, le=2)]
TopP = Annotated[float, Field(gt=0, le=1)]


def _inside_own_datasets(path: str) -> str:
    """A dataset is named relative to the owner's datasets folder: never absolute, never
    climbing (the worker confines it again, and follows no links)."""
    if path.startswith(("/", "~")) or ".." in path.replace("\\", "/").split("/"):
        raise ValueError("name a file in your datasets folder, e.g. 'train.jsonl'")
    return path


def _known_personality(name: str) -> str:
    if name not in personalities():
        raise ValueError(f"unknown personality; known: {', '.join(sorted(personalities()))}")
    return name


PersonalityName = Annotated[str, AfterValidator(_known_personality)]

DatasetPath = Annotated[
    str, Field(min_length=1, max_length=1024), AfterValidator(_inside_own_datasets)
]


class Message(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: Annotated[str, Field(max_length=100_000)]


def _context() -> TaskContext:
    context = current_task()
    if context is None:
        raise RuntimeError("Vicky functions run as VokaFlow tasks")
    return context


def _models(context: TaskContext) -> VisibleModels:
    """The models the task's owner may use (an admin's tasks have no data scope)."""
    return context.trained_models.visible()


def _complete(model: str, request: dict[str, Any]) -> dict[str, Any]:
    # Ray Serve loads only in the tasks that call a model
    from ray import serve

    from vokaflow.vicky.deployment import DEPLOYMENT_NAME, app_name

    context = _context()
    # an unknown model, or another principal's, fails here naming the owner's known ones
    app = app_name(_models(context).get(model).model_id)
    if app not in serve.status().applications:
        raise RuntimeError(f"model {model!r} is not deployed; add it to VOKAFLOW_VICKY_MODELS")
    handle = serve.get_deployment_handle(DEPLOYMENT_NAME, app_name=app)
    response = handle.complete.remote(request)
    timeout_s = context.settings.vicky_request_timeout_s
    try:
        answer: dict[str, Any] = response.result(timeout_s=timeout_s)
    except TimeoutError:
        response.cancel()
        raise TimeoutError(f"model {model!r} gave no answer within {timeout_s:g} s") from None
    if answer.get("error"):
        raise RuntimeError(f"model {model!r} cannot answer: {answer.get('message')}")
    return answer


def _system(personality: str) -> dict[str, str]:
    from vokaflow.vicky.client import personality as find  # imports Ray Serve

    return {"role": "system", "content": find(personality).system_prompt}


def _answer(answer: dict[str, Any], model: str, personality: str) -> dict[str, Any]:
    return {
        "response": answer["text"],
        "model_used": model,
        "personality": personality,
        "tokens_used": int(answer["prompt_tokens"]) + int(answer["completion_tokens"]),
        "execution_time": answer["execution_time"],
        "confidence": answer["confidence"],
        "metadata": {
            "model_version": answer["model_version"],
            "processing_node": answer["processing_node"],
        },
    }


@function(
    category="vicky",
    description="Vicky answers one prompt with the given model and personality",
    estimated_duration="1-30 seconds",
)
def vicky_inference(
    text: Prompt,
    model: ModelId = DEFAULT_MODEL,
    personality: PersonalityName = "conversational",
    max_tokens: MaxTokens = 256,
    temperature: Temperature = 0.7,
    top_p: TopP = 0.9,
) -> dict[str, Any]:
    messages = [_system(personality), {"role": "user", "content": text}]
    request = {"messages": messages, "max_tokens": max_tokens, "temperature": temperature}
    answer = _complete(model, {**request, "top_p": top_p})
    return _answer(answer, model, personality)


@function(
    category="vicky",
    description="Vicky continues a conversation given as [{role, content}, ...] messages",
    estimated_duration="1-30 seconds",
)
def vicky_chat(
    messages: Annotated[list[Message], Field(min_length=1, max_length=1000)],
    model: ModelId = DEFAULT_MODEL,
    personality: PersonalityName = "technical_assistant",
    max_tokens: MaxTokens = 256,
    temperature: Temperature = 0.7,
    top_p: TopP = 0.9,
) -> dict[str, Any]:
    if not messages or messages[-1].get("role") != "user":
        raise ValueError("messages must end with a message whose role is 'user'")
    request = {
        "messages": [_system(personality), *messages],
        "max_tokens": max_tokens,
        "temperature": temperature,
        "top_p": top_p,
    }
    answer = _answer(_complete(model, request), model, personality)
    answer["message"] = {"role": "assistant", "content": answer.pop("response")}
    return answer


@function(
    worker_type=WorkerType.CPU_INTENSIVE,
    category="vicky",
    description="Fine-tunes a model on a JSONL dataset (chat or text) and serves the result "
    "as a new model of the submitting key's own; reports the loss as progress",
    estimated_duration="minutes",
)
def vicky_training(
    model: ModelId,
    dataset_path: DatasetPath,
    new_model_id: ModelName,
    steps: Annotated[int, Field(ge=1, le=1_000_000)] | None = None,
    epochs: Annotated[int, Field(ge=1, le=1000)] | None = None,
    learning_rate: Annotated[float, Field(gt=0, le=1)] = 5e-4,
    batch_size: Annotated[int, Field(ge=1, le=1024)] = 4,
) -> dict[str, Any]:
    # torch and Ray Serve load only in the worker that trains
    from vokaflow.vicky.deployment import deploy_model, undeploy_model
    from vokaflow.vicky.training import check_fits_in_memory, fine_tune

    context = _context()
    check_model_id(new_model_id)
    home = Path(context.settings.home).resolve()
    text = open_dataset(home, context.owner, dataset_path)
    models = _models(context)
    base = models.get(model)
    if new_model_id in models:  # a base model, or one of the owner's own
        raise ValueError(f"model id {new_model_id!r} is taken")
    check_fits_in_memory(base, model)
    trained = context.trained_models
    limit = context.settings.vicky_max_trained_per_principal
    claim = trained.claim(new_model_id, context.task_id, limit)
    out_dir = home / "models" / claim.key
    try:
        result = fine_tune(
            base,
            text,
            out_dir,
            steps=steps,
            epochs=epochs,
            learning_rate=learning_rate,
            batch_size=batch_size,
            progress=lambda step, total, loss: context.report_progress(
                step / total, step=step, total_steps=total, loss=round(loss, 6)
            ),
        )
        spec = dataclasses.replace(
            base,
            model_id=claim.key,
            source=str(out_dir),
            version=f"{new_model_id}-{int(time.time())}",
        )
        deploy_model(spec)
        trained.finish(claim, spec)
    except BaseException:
        # the name is free again and no longer counts, and what the training left goes
        with contextlib.suppress(Exception):
            undeploy_model(claim.key)
        shutil.rmtree(out_dir, ignore_errors=True)
        trained.release(claim)
        raise
    return {
        "model_id": new_model_id,
        "base_model": model,
        "path": str(out_dir),
        "steps": result.steps,
        "first_loss": result.first_loss,
        "last_loss": result.last_loss,
        "losses": [round(x, 6) for x in result.losses[-200:]],
    }
