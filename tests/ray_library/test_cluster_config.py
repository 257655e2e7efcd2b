"""cluster.yaml passes Ray's own cluster-launcher schema (offline: no cloud credentials), and
deployments/kuberay.yaml serves deployments/gpu.yaml on the same layout of nodes: a CPU-only
head, one node type per worker-type resource sized as resources.py sizes it, GPU nodes."""

from __future__ import annotations

import copy
import importlib.metadata
import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import ray
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config
from ray.serve.schema import ServeDeploySchema

from vokaflow.workers.resources import POOL_RESOURCE, SLOTS_PER_CPU

ROOT = Path(__file__).parents[2]
RAY_PORT = 6390  # Redis owns 6379 where it runs beside the head (DESIGN.md)
GPU = "nvidia.com/gpu"


def load(path: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / path).read_text())
    return loaded


def prepared(config: dict[str, Any]) -> dict[str, Any]:
    """What `ray up` checks before it calls the cloud: defaults filled in, Ray's schema."""
    full = prepare_config(copy.deepcopy(config))
    validate_config(full)
    return full


@pytest.fixture(scope="module")
def cluster() -> dict[str, Any]:
    return load("cluster.yaml")


@pytest.fixture(scope="module")
def service() -> dict[str, Any]:
    return load("deployments/kuberay.yaml")


def node_types(cluster: dict[str, Any]) -> dict[str, dict[str, Any]]:
    types: dict[str, dict[str, Any]] = cluster["available_node_types"]
    return types


def custom(resources: dict[str, Any]) -> dict[str, Any]:
    return {name: n for name, n in resources.items() if name not in ("CPU", "GPU")}


# ---------------------------------------------------------------- cluster.yaml


def test_cluster_yaml_passes_rays_own_schema_after_its_defaults_are_filled_in(cluster):
    full = prepared(cluster)
    assert full["provider"]["type"] == "aws"
    assert full["head_node_type"] in full["available_node_types"]


def test_worker_nodes_start_ray_with_the_worker_pool_settings_up_gives_its_own_head(cluster):
    from vokaflow.runtime.launcher import worker_pool_config

    command = " ".join(cluster["worker_start_ray_commands"])
    for name, value in worker_pool_config(1).items():
        expected = "$((4 * $(nproc) + 4))" if name == "RAY_num_workers_soft_limit" else value
        assert f"{name}={expected}" in command


@pytest.mark.parametrize(
    "break_it",
    [
        lambda c: c["available_node_types"]["cpu_intensive"].update(resourcez={"CPU": 1}),
        lambda c: c.update(worker_start_commands=["ray start"]),
        lambda c: c["available_node_types"]["io_intensive"]["resources"].update(vokaflow_io=1.5),
        lambda c: c["available_node_types"]["general_purpose"].pop("node_config"),
    ],
    ids=["unknown node-type key", "unknown top-level key", "fractional resource", "no config"],
)
def test_a_broken_copy_of_cluster_yaml_is_refused(cluster, break_it):
    broken = copy.deepcopy(cluster)
    break_it(broken)
    with pytest.raises(jsonschema.ValidationError):
        prepared(broken)


def test_the_head_is_cpu_only_and_runs_ray_on_6390(cluster):
    head = node_types(cluster)[cluster["head_node_type"]]
    assert head["resources"].get("GPU") == 0
    assert not custom(head["resources"]), "worker-type work stays off the head"
    start = " ".join(cluster["head_start_ray_commands"])
    assert f"--port={RAY_PORT}" in start and "--num-gpus=0" in start
    assert "vokaflow up --detach" in start and f"RAY_ADDRESS=127.0.0.1:{RAY_PORT}" in start
    assert f"$RAY_HEAD_IP:{RAY_PORT}" in " ".join(cluster["worker_start_ray_commands"])


def test_each_worker_type_resource_has_one_node_type_sized_as_resources_py_sizes_it(cluster):
    for worker_type, resource in POOL_RESOURCE.items():
        holders = [t for t in node_types(cluster).values() if resource in t["resources"]]
        assert len(holders) == 1, f"{resource}: {len(holders)} node types"
        resources = holders[0]["resources"]
        assert custom(resources) == {resource: int(resources["CPU"] * SLOTS_PER_CPU[worker_type])}
        assert holders[0]["max_workers"] > holders[0]["min_workers"], "room to grow on demand"


def test_gpu_nodes_for_vicky_have_gpus_and_no_worker_type_resource(cluster):
    gpu_types = [t for t in node_types(cluster).values() if t["resources"].get("GPU", 0) >= 1]
    assert gpu_types
    assert all(not custom(t["resources"]) for t in gpu_types)


def test_setup_installs_the_repository_with_extras_pyproject_defines(cluster):
    extras = importlib.metadata.metadata("vokaflow").get_all("Provides-Extra") or []
    commands = cluster["setup_commands"] + [
        command
        for t in node_types(cluster).values()
        for command in t.get("worker_setup_commands", [])
    ]
    installs = [m for c in commands for m in re.findall(r"vokaflow\[([a-z,]+)\]", c)]
    assert installs, "some setup command installs the repository"
    for group in installs:
        assert set(group.split(",")) <= set(extras)
    assert any("vicky" in group for group in installs), "GPU nodes get Vicky's libraries"


# ---------------------------------------------------------------- deployments/kuberay.yaml


def cluster_spec(service: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = service["spec"]["rayClusterConfig"]
    return spec


def group_resources(group: dict[str, Any]) -> dict[str, Any]:
    """The Ray resources of a KubeRay group: num-cpus, num-gpus and the JSON `resources`
    string, which KubeRay passes through a shell (hence its outer quotes)."""
    params = group["rayStartParams"]
    declared = json.loads(shlex.split(params["resources"])[0]) if "resources" in params else {}
    return {"CPU": int(params["num-cpus"]), "GPU": int(params.get("num-gpus", 0)), **declared}


def test_kuberay_serves_the_repositorys_gpu_serve_config(service):
    assert (service["apiVersion"], service["kind"]) == ("ray.io/v1", "RayService")
    serve_config = yaml.safe_load(service["spec"]["serveConfigV2"])
    assert serve_config == load("deployments/gpu.yaml")
    ServeDeploySchema.model_validate(serve_config)


def test_kuberay_runs_this_ray_version(service):
    assert cluster_spec(service)["rayVersion"] == ray.__version__


def test_kuberay_groups_mirror_cluster_yamls_node_types(service, cluster):
    types = node_types(cluster)
    groups = cluster_spec(service)["workerGroupSpecs"]
    assert {g["groupName"].replace("-", "_") for g in groups} == set(types) - {"head"}
    for group in groups:
        wanted = types[group["groupName"].replace("-", "_")]["resources"]
        assert group_resources(group) == {"GPU": 0, **wanted}, group["groupName"]
        (container,) = group["template"]["spec"]["containers"]
        limits = container["resources"]["limits"]
        assert int(limits["cpu"]) == wanted["CPU"]
        assert int(limits.get(GPU, 0)) == wanted.get("GPU", 0)


def test_kuberay_head_is_cpu_only_and_groups_declare_every_worker_type_resource(service):
    head = cluster_spec(service)["headGroupSpec"]
    assert head["rayStartParams"]["num-gpus"] == "0"
    assert "resources" not in head["rayStartParams"]
    groups = cluster_spec(service)["workerGroupSpecs"]
    declared = {name for g in groups for name in custom(group_resources(g))}
    assert declared == set(POOL_RESOURCE.values())
    assert any(group_resources(g)["GPU"] >= 1 for g in groups), "a GPU group for Vicky"
