"""The gateway for ``serve run`` / ``serve deploy`` with ``deployments/*.yaml``: their
``import_path`` names ``app_builder``. Part of the runtime, not the API, because it starts
the scheduler's job as `vokaflow up` does."""

from __future__ import annotations

from ray.serve.deployment import Application

from vokaflow.api.gateway import gateway_app
from vokaflow.config import load_settings
from vokaflow.errors import ConfigError
from vokaflow.runtime.launcher import start_scheduler_job


def app_builder(args: dict[str, str]) -> Application:
    """Settings come from the environment (the YAML's runtime_env); Redis must be external."""
    settings = load_settings()
    if not settings.redis_url:
        raise ConfigError("VOKAFLOW_REDIS_URL must be set when deploying with a Serve config")
    start_scheduler_job(settings, settings.redis_url)
    return gateway_app(settings, settings.redis_url)
