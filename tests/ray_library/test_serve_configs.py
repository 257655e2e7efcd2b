"""deployments/*.yaml are valid `serve deploy` configs, each application's import path names
an application builder that exists, and every Vicky application names a registered model."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml
from ray.serve.schema import ServeDeploySchema

from vokaflow.vicky.registry import ModelRegistry

# kuberay.yaml is a RayService, not a Serve config: test_cluster_config.py checks that its
# serveConfigV2 is gpu.yaml.
CONFIGS = sorted(
    path
    for path in (Path(__file__).parents[2] / "deployments").glob("*.yaml")
    if path.name != "kuberay.yaml"
)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_a_serve_config_passes_rays_own_schema(path):
    config = ServeDeploySchema.model_validate(yaml.safe_load(path.read_text()))
    assert any(app.name == "vokaflow" for app in config.applications)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_each_import_path_names_a_callable_builder(path):
    for app in yaml.safe_load(path.read_text())["applications"]:
        module_name, builder = app["import_path"].split(":")
        assert callable(getattr(importlib.import_module(module_name), builder)), app["name"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_each_vicky_application_serves_a_registered_model(path):
    config = yaml.safe_load(path.read_text())
    vicky = [app for app in config["applications"] if app["name"].startswith("vicky-")]
    assert vicky, "each config serves at least one model"
    registry = ModelRegistry()
    for app in vicky:
        assert app["name"] == f"vicky-{app['args']['model']}"
        assert app["args"]["model"] in registry
