"""Bodies of the Vicky routes; ChatMessage is OpenAI's shape too."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from vokaflow.api.schemas.common import StrictBody
from vokaflow.payload_limits import check_string


class InferenceParameters(StrictBody):
    max_tokens: int = Field(default=256, ge=1, le=8192)
    temperature: float = Field(default=0.7, ge=0.0, le=5.0)
    top_p: float = Field(default=0.9, gt=0.0, le=1.0)


class VickyInferenceRequest(StrictBody):
    text: str = Field(min_length=1, max_length=100_000)
    model: str | None = None  # None: VOKAFLOW_VICKY_DEFAULT_MODEL
    personality: str = "conversational"
    context: dict[str, Any] = Field(default_factory=dict)
    parameters: InferenceParameters = Field(default_factory=InferenceParameters)
    stream: bool = False  # true: server-sent events, one per generated piece of text

    _valid_text = field_validator("text")(check_string)


class VickyInferenceMetadata(BaseModel):
    model_version: str
    processing_node: str


class VickyInferenceResponse(BaseModel):
    response: str
    model_used: str
    personality: str
    tokens_used: int
    execution_time: float
    confidence: float
    metadata: VickyInferenceMetadata


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=100_000)

    _valid_text = field_validator("content")(check_string)


class VickyChatRequest(StrictBody):
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    model: str | None = None  # None: VOKAFLOW_VICKY_DEFAULT_MODEL
    personality: str = "conversational"
    # With a session id, the conversation is kept: send only the new messages next time.
    session_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.:-]{1,128}$")
    parameters: InferenceParameters = Field(default_factory=InferenceParameters)
    stream: bool = False


class VickyChatResponse(BaseModel):
    message: ChatMessage
    session_id: str
    model_used: str
    personality: str
    tokens_used: int
    execution_time: float
    confidence: float
    metadata: VickyInferenceMetadata


class PersonalityInfo(BaseModel):
    name: str
    description: str
    system_prompt: str


class PersonalitiesResponse(BaseModel):
    personalities: list[PersonalityInfo]
    count: int
