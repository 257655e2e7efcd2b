"""A benchmark stack for another checkout runs that checkout's code: its commands get the
checkout on PYTHONPATH and run in it (Ray's workers and the scheduler job's `python -m`
import from the working folder first)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from benchmarks.common import bench_stack


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def record(args: list[str], **options: Any) -> subprocess.CompletedProcess[str]:
        seen.append({"args": args, **options})
        return subprocess.CompletedProcess(args, 0, "", "")

    monkeypatch.setattr(subprocess, "run", record)
    return seen


def test_a_stack_for_another_checkout_runs_its_commands_in_it_with_it_on_the_path(
    tmp_path: Path, commands: list[dict[str, Any]]
) -> None:
    stack = bench_stack(tmp_path, VOKAFLOW_HA_PROXY="false")
    stack.cli("down")
    assert commands[0]["cwd"] == tmp_path
    assert commands[0]["env"]["PYTHONPATH"] == str(tmp_path)
    assert commands[0]["env"]["VOKAFLOW_HA_PROXY"] == "false"


def test_a_stack_of_this_checkout_runs_where_it_was_started(
    commands: list[dict[str, Any]],
) -> None:
    bench_stack().cli("down")
    assert commands[0]["cwd"] is None
