"""The module the raylet preloads into every worker (vokaflow.workers.warm): it imports the
executor, and a failure to do so leaves the worker able to start. Each case runs in a child
process, whose modules are its own."""

from __future__ import annotations

import subprocess
import sys

from vokaflow.runtime.launcher import WARM_WORKER_MODULE, worker_pool_config


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_the_preloaded_module_imports_the_executor():
    done = _run(
        f"import sys, {WARM_WORKER_MODULE}; print('vokaflow.workers.executor' in sys.modules)"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"


def test_a_worker_whose_executor_fails_to_import_still_starts_and_says_why():
    done = _run(
        "import sys; sys.modules['vokaflow.workers.executor'] = None\n"
        f"import {WARM_WORKER_MODULE}; print('started')"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "started"
    assert "preloading the executor failed" in done.stderr


def test_the_heads_up_starts_preload_it():
    assert worker_pool_config(2)["RAY_preload_python_modules"] == WARM_WORKER_MODULE
