"""Ray unpickles the worker env for every chunk: a worker process builds its settings once
per distinct env, not once per chunk."""

from __future__ import annotations

import ray.cloudpickle as cloudpickle

from vokaflow.config import Settings
from vokaflow.workers.env import WorkerEnv


def _env(**overrides: object) -> WorkerEnv:
    wire = Settings().to_wire() | overrides
    return WorkerEnv("redis://127.0.0.1:6379/0", wire, ("my_plugin",))


def test_each_chunk_gets_the_process_s_instance_with_its_settings_already_built():
    blob = cloudpickle.dumps(_env())
    first = cloudpickle.loads(blob)
    settings = first.settings
    second = cloudpickle.loads(blob)
    assert second is first
    assert second.settings is settings


def test_an_env_with_other_settings_is_its_own_instance():
    first = cloudpickle.loads(cloudpickle.dumps(_env(default_timeout_s=300)))
    other = cloudpickle.loads(cloudpickle.dumps(_env(default_timeout_s=12)))
    assert other is not first
    assert other.settings.default_timeout_s == 12
    assert first.settings.default_timeout_s == 300


def test_the_unpickled_env_equals_the_one_the_scheduler_sent():
    env = _env()
    assert cloudpickle.loads(cloudpickle.dumps(env)) == env


def test_a_claimed_task_crosses_ray_s_pickler_whole():
    from vokaflow.domain import Priority
    from vokaflow.domain.task import ClaimedTask, TaskSpec

    spec = TaskSpec(task_id="t1", function_name="noop", priority=Priority.HIGH, kwargs={"a": 1})
    task = ClaimedTask(spec, attempt=2, solo=True, requeued_at=3.5)
    assert cloudpickle.loads(cloudpickle.dumps(task)) == task
