"""Body of the health route."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class HealthResponse(BaseModel):
    status: Literal["healthy"]
    timestamp: str
    uptime: float
    version: str
    environment: str
