"""The gateway as a Ray Serve deployment: stateless, any number of replicas, no CPU held."""

from __future__ import annotations

import logging
import os
from typing import Any

from fastapi import FastAPI
from ray import serve
from ray.serve.deployment import Application

from vokaflow.api.app import create_long_lived_app
from vokaflow.api.services import Services
from vokaflow.config import Settings
from vokaflow.observability.service_logs import install_service_logging

APP_NAME = "vokaflow"
log = logging.getLogger("vokaflow.gateway")


# Uvicorn, which serves the replica's HTTP port, would otherwise take the client's address
# from any X-Forwarded-For sent through a loopback peer (Serve's HAProxy passes on what
# the client sent): VOKAFLOW_TRUSTED_PROXIES decides that, in vokaflow.api.auth.
UNTRUSTING_UVICORN = {"env_vars": {"FORWARDED_ALLOW_IPS": ""}}


@serve.deployment(
    name="gateway",
    ray_actor_options={"num_cpus": 0, "runtime_env": UNTRUSTING_UVICORN},
    max_ongoing_requests=1000,
)
@serve.ingress()
class Gateway:
    def __init__(self, wire_settings: dict[str, Any], redis_url: str) -> None:
        self.services = Services(Settings.from_wire(wire_settings), redis_url)
        install_service_logging("gateway", redis_url, self.services.keys)
        log.info("gateway replica started (pid %d)", os.getpid())

    def __serve_build_asgi_app__(self) -> FastAPI:
        return create_long_lived_app(self.services)


def gateway_app(settings: Settings, redis_url: str) -> Application:
    deployment = Gateway.options(num_replicas=settings.gateway_replicas)  # type: ignore[attr-defined]
    return deployment.bind(settings.to_wire(), redis_url)
