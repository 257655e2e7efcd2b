"""The gateway as a Ray Serve deployment: stateless, any number of replicas, no CPU held."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from ray import serve
from ray.serve.deployment import Application

from vokaflow.api.app import create_app
from vokaflow.api.services import Services
from vokaflow.config import Settings

APP_NAME = "vokaflow"


@serve.deployment(name="gateway", ray_actor_options={"num_cpus": 0}, max_ongoing_requests=1000)
@serve.ingress()
class Gateway:
    def __init__(self, wire_settings: dict[str, Any], redis_url: str) -> None:
        self.services = Services(Settings.from_wire(wire_settings), redis_url)

    def __serve_build_asgi_app__(self) -> FastAPI:
        return create_app(self.services)


def gateway_app(settings: Settings, redis_url: str) -> Application:
    deployment = Gateway.options(num_replicas=settings.gateway_replicas)
    return deployment.bind(settings.to_wire(), redis_url)
