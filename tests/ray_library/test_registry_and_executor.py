from __future__ import annotations

import pytest

from vokaflow.domain import WorkerType
from vokaflow.domain.task import ClaimedTask, Outcome, TaskSpec
from vokaflow.functions.arguments import ArgumentConflict, ArgumentError
from vokaflow.functions.registry import FunctionRegistry, function
from vokaflow.workers.capture import MAX_LINES, captured_output
from vokaflow.workers.executor import run_one as run_in_sink
from vokaflow.workers.resources import node_resources, pool_slots, task_options


def _claimed(
    task_id: str, attempt: int, function_name: str, args: list, kwargs: dict, **spec: str
) -> ClaimedTask:
    return ClaimedTask(
        TaskSpec(task_id=task_id, function_name=function_name, args=args, kwargs=kwargs, **spec),
        attempt,
    )


def run_one(spec: ClaimedTask) -> Outcome:
    with captured_output() as sink:
        return run_in_sink(spec, sink)


def _registry_with_double() -> FunctionRegistry:
    registry = FunctionRegistry()

    @function(
        category="analytics", description="doubles", estimated_duration="fast", target=registry
    )
    def double(x: int) -> int:
        return 2 * x

    return registry


def test_a_registered_function_is_found_by_name_and_by_category_qualified_name():
    registry = _registry_with_double()
    assert registry.get("double").call(4) == 8
    assert registry.find("analytics.double") is registry.find("double")
    assert registry.find("system.double") is None


def test_parameters_default_to_the_signature():
    assert _registry_with_double().get("double").parameters == ["x"]


def test_arguments_that_cannot_bind_to_the_signature_are_refused_as_args():
    entry = _registry_with_double().get("double")
    assert entry.validated([1], {}) == ([1], {})
    with pytest.raises(ArgumentError, match="too many") as raised:
        entry.validated([1, 2], {})
    assert raised.value.field == "args"
    with pytest.raises(ArgumentError):
        entry.validated([], {"y": 1})


def test_a_wrong_type_is_refused_naming_the_positional_or_keyword_argument():
    entry = _registry_with_double().get("double")
    with pytest.raises(ArgumentError) as positional:
        entry.validated(["many"], {})
    assert positional.value.field == "args[0]"
    with pytest.raises(ArgumentError) as keyword:
        entry.validated([], {"x": {"a": 1}})
    assert keyword.value.field == "kwargs.x"


def test_validated_arguments_are_converted_to_the_declared_types():
    assert _registry_with_double().get("double").validated(["21"], {}) == ([21], {})


def test_a_nested_problem_names_the_path_inside_the_argument():
    registry = FunctionRegistry()

    @function(category="system", description="d", estimated_duration="e", target=registry)
    def rows(data: list[dict[str, int]]) -> int:
        return len(data)

    with pytest.raises(ArgumentError) as raised:
        registry.get("rows").validated([], {"data": [{"a": 1}, {"b": "x"}]})
    assert raised.value.field == "kwargs.data[1].b"


def test_a_check_refuses_arguments_that_do_not_go_together_naming_one_of_them():
    registry = FunctionRegistry()

    def one_source(arguments):
        if (arguments["values"] is None) == (arguments["path"] is None):
            raise ArgumentConflict("values", "give values or path")

    @function(
        category="system",
        description="d",
        estimated_duration="e",
        target=registry,
        check=one_source,
    )
    def summarise(values: list[float] | None = None, path: str | None = None) -> int:
        return 0

    entry = registry.get("summarise")
    assert entry.validated([[1.0]], {}) == ([[1.0]], {})
    with pytest.raises(ArgumentError, match="give values or path") as neither:
        entry.validated([], {})
    assert neither.value.field == "kwargs.values"
    with pytest.raises(ArgumentError) as both:
        entry.validated([[1.0]], {"path": "p"})
    assert both.value.field == "args[0]"


def test_a_parameter_named_like_a_pydantic_attribute_is_validated_by_its_own_name():
    registry = FunctionRegistry()

    @function(category="system", description="d", estimated_duration="e", target=registry)
    def shadow(json: str, model_config: int = 1) -> str:
        return json * model_config

    assert registry.get("shadow").validated([], {"json": "a", "model_config": 2}) == (
        [],
        {"json": "a", "model_config": 2},
    )


def test_a_category_that_is_not_a_lowercase_word_is_refused_at_registration():
    with pytest.raises(ValueError, match="category"):
        function(
            category="Weather!", description="d", estimated_duration="e", target=FunctionRegistry()
        )(lambda: None)


def test_a_plugin_category_is_listed_after_the_built_in_ones():
    registry = FunctionRegistry()
    function(category="weather", description="d", estimated_duration="e", target=registry)(
        lambda: None
    )
    assert registry.categories()[-1] == "weather" and registry.categories()[0] == "vicky"


def test_an_async_function_is_run_to_completion():
    registry = FunctionRegistry()

    async def twice(x: int) -> int:
        return 2 * x

    function(category="analytics", description="d", estimated_duration="e", target=registry)(twice)
    assert registry.get("twice").invoke(21) == 42


def test_the_executor_reports_a_result_and_its_timing():
    outcome = run_one(_claimed("t1", 1, "statistical_summary", [[1, 2, 3]], {}))
    assert outcome.status == "completed"
    assert outcome.result["mean"] == 2.0
    assert outcome.completed_at >= outcome.started_at


def test_the_executor_turns_an_exception_into_a_failed_outcome_with_a_traceback():
    outcome = run_one(_claimed("t2", 1, "raise_error", ["boom"], {}))
    assert outcome.status == "failed"
    assert outcome.error == {
        "type": "RuntimeError",
        "message": "boom",
        "traceback": outcome.error["traceback"],
    }
    assert "Traceback" in outcome.error["traceback"]


def test_the_worker_refuses_an_admin_only_function_to_a_task_a_user_submitted():
    """Checked at submit and at requeue, and once more where the task runs."""
    spec = _claimed("t5", 1, "cache_cleanup", [], {"dry_run": True}, owner="ann", data_scope="ann")
    outcome = run_one(spec)
    assert outcome.status == "failed" and outcome.error["type"] == "PermissionError"


def test_a_result_that_is_not_json_fails_the_task_with_a_reason():
    @function(
        category="system",
        description="returns a set",
        estimated_duration="fast",
        name="returns_a_set_for_test",
    )
    def returns_set() -> set[int]:
        return {1}

    outcome = run_one(_claimed("t4", 1, "returns_a_set_for_test", [], {}))
    assert outcome.status == "failed" and outcome.error["type"] == "TypeError"


def test_every_worker_type_maps_to_its_own_ray_resource_with_at_least_one_slot():
    resources = node_resources(2)
    assert len(resources) == len(WorkerType) and all(v >= 1 for v in resources.values())
    slots = pool_slots(resources)
    assert slots[WorkerType.IO_INTENSIVE] == 8 and slots[WorkerType.MEMORY_INTENSIVE] == 1
    options = task_options(WorkerType.IO_INTENSIVE)
    assert options["num_cpus"] == 0 and options["resources"] == {"vokaflow_io": 1.0}


def test_what_a_task_prints_and_logs_is_captured_as_its_own_lines():
    with captured_output() as sink:
        first = run_in_sink(_claimed("t5", 1, "echo", ["hello from a task"], {}), sink)
        second = run_in_sink(_claimed("t6", 1, "noop", [], {}), sink)
    messages = [(line["source"], line["message"]) for line in first.logs]
    assert ("stdout", "hello from a task") in messages
    assert ("vokaflow.functions.echo", "hello from a task") in messages
    assert second.logs == [], "each task keeps only its own lines"


def test_captured_output_is_bounded_per_task():
    with captured_output() as sink:
        output = sink.next_task()
        for i in range(MAX_LINES + 50):
            print(f"line {i}")
    lines = output.finish()
    assert len(lines) == MAX_LINES + 1
    assert "50 more lines" in lines[-1]["message"]


def test_captured_streams_answer_what_code_expects_of_stdout():
    import subprocess
    import sys

    with captured_output() as sink:
        output = sink.next_task()
        assert sys.stdout.encoding.lower() == "utf-8"
        sys.stdout.buffer.write("bytes ✓\n".encode())
        assert isinstance(sys.stderr.fileno(), int)
        subprocess.run(["true"], stdout=sys.stdout, check=True)
        sys.stdout.flush()
    assert [line["message"] for line in output.finish()] == ["bytes ✓"]


def test_progress_bars_keep_only_their_last_state_and_cost_linear_time():
    import sys
    import time

    started = time.perf_counter()
    with captured_output() as sink:
        output = sink.next_task()
        for i in range(20_000):
            sys.stderr.write(f"\rprogress {i}")
        sys.stderr.write("\n")
    assert time.perf_counter() - started < 2.0
    assert [line["message"] for line in output.finish()] == ["progress 19999"]


def test_a_claimed_task_s_submission_time_reaches_the_running_task_s_context(tmp_path):
    from vokaflow.config import Settings
    from vokaflow.functions.context import current_task
    from vokaflow.workers.env import WorkerEnv

    @function(
        category="system",
        description="what the task's context says",
        estimated_duration="fast",
        name="task_context_for_test",
    )
    def task_context() -> dict[str, object]:
        task = current_task()
        assert task is not None
        return {"task_id": task.task_id, "created_at": task.created_at}

    spec = TaskSpec(
        task_id="t7",
        function_name="task_context_for_test",
        timeout_s=5,
        max_retries=3,
        created_at=1_700_000_000.25,
    )
    # a retry: the submission time stays the first one's
    claimed = ClaimedTask(spec, attempt=3, system_retries=1)
    settings = Settings(home=tmp_path, data_roots=str(tmp_path / "d"))
    env = WorkerEnv(redis_url="redis://unused", settings_wire=settings.to_wire())
    with captured_output() as sink:
        outcome = run_in_sink(claimed, sink, env)
    assert outcome.result == {"task_id": "t7", "created_at": 1_700_000_000.25}


def test_a_plugin_that_fails_to_import_fails_each_task_of_the_chunk_not_the_chunk(
    monkeypatch, tmp_path
):
    # Raised out of the chunk, the scheduler would read it as a lost worker and run the
    # tasks again, alone, each time failing the same way.
    from vokaflow.config import Settings
    from vokaflow.domain import TaskStatus
    from vokaflow.workers import executor
    from vokaflow.workers.env import WorkerEnv

    monkeypatch.setattr(executor, "freeze_what_lives_on", lambda: None)  # this process's GC
    settings = Settings(home=tmp_path, data_roots=str(tmp_path / "d"))
    env = WorkerEnv(
        redis_url="redis://unused",
        settings_wire=settings.to_wire(),
        plugins=("vokaflow_no_such_plugin_module",),
    )
    tasks = [_claimed(f"t{i}", 1, "noop", [], {}) for i in range(2)]
    outcomes = executor.execute_chunk._function(tasks, 1, None, env)
    assert [o.status for o in outcomes] == [TaskStatus.FAILED, TaskStatus.FAILED]
