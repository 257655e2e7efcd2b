"""The JavaScript SDK (clients/js, `@vokaflow/sdk`) against the real stack: its whole
`node --test` suite runs with VOKAFLOW_URL and VOKAFLOW_API_KEY set, so that the live tests
and the API reference's JavaScript example run too, and none of them may be skipped."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from vokaflow.testing.stack import LocalStack

REPO = Path(__file__).resolve().parents[2]
JS_TESTS = REPO / "clients" / "js" / "test"
SUMMARY = re.compile(r"^# (tests|suites|pass|fail|cancelled|skipped|skip|todo) (\d+)$", re.M)
LIVE_TESTS = [
    "runs unchanged against the live service and prints the task id and its end",
    "runs a task and returns its result and metadata with their keys as they were",
    "resolves waitForCompletion with a failed task and its error",
    "submits a batch, lists the refused task and follows the batch to its end",
    "throws typed errors: not found, validation, authentication",
    "raises RateLimitExceeded with retryAfter, or waits it out when opted in",
    "reads the catalog, priorities, metrics and health, keeping data keys as sent",
    "streams a Vicky chat as pieces of text, then the whole answer",
    "configures a webhook whose signed test delivery verifySignature accepts",
]


@dataclass(frozen=True)
class NodeRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict[str, int]:
        counts = {name: int(count) for name, count in SUMMARY.findall(self.stdout)}
        counts.setdefault("skipped", counts.get("skip", 0))
        return counts

    @property
    def skipped_lines(self) -> list[str]:
        return [line.strip() for line in self.stdout.splitlines() if "# SKIP" in line]

    def tail(self) -> str:
        return (self.stdout + "\n" + self.stderr)[-8000:]


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the JavaScript SDK's tests need Node.js >= 18")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major = int(version.stdout.strip().lstrip("v").split(".")[0])
    assert major >= 18, f"the JavaScript SDK needs Node.js >= 18, found {version.stdout}"
    return node


@pytest.fixture(scope="module")
def node_run(stack: LocalStack) -> NodeRun:
    env = {
        **os.environ,
        "VOKAFLOW_URL": stack.base_url,
        "VOKAFLOW_API_KEY": stack.admin_key,
        "VOKAFLOW_JS_REQUIRE_LIVE": "1",  # a missing variable fails the live tests
    }
    run = subprocess.run(
        [_node(), "--test", "--test-reporter=tap", "clients/js/test/"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return NodeRun(run.returncode, run.stdout, run.stderr)


def test_the_javascript_sdks_node_test_suite_passes_against_the_stack(node_run):
    assert node_run.returncode == 0, node_run.tail()
    summary = node_run.summary
    assert summary["fail"] == 0 and summary["cancelled"] == 0, summary
    assert summary["pass"] >= 60, summary


def test_no_javascript_test_was_skipped(node_run):
    assert node_run.skipped_lines == [], node_run.tail()
    assert node_run.summary["skipped"] == 0, node_run.summary


def test_the_live_tests_and_the_specs_javascript_example_ran_and_passed(node_run):
    for name in LIVE_TESTS:
        passed = re.search(rf"^\s*ok \d+ - {re.escape(name)}$", node_run.stdout, re.M)
        assert passed, f"{name!r} did not pass:\n{node_run.tail()}"
