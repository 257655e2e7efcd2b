"""A reader that goes away early (`vokaflow schedules list | head`) ends the CLI quietly."""

from __future__ import annotations

import subprocess
import sys

PRINTS_A_LOT = """
import sys
from vokaflow import cli

def print_a_lot(settings, args):
    for _ in range(100_000):
        print("x" * 100)
    return 0

cli.cmd_status = print_a_lot
sys.exit(cli.main(["status", "some-task"]))
"""


def test_a_closed_stdout_ends_the_cli_with_no_traceback():
    cli = subprocess.Popen(
        [sys.executable, "-c", PRINTS_A_LOT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert cli.stdout is not None and cli.stderr is not None
    assert cli.stdout.readline() == b"x" * 100 + b"\n"
    cli.stdout.close()  # as `head -1` does
    errors = cli.stderr.read().decode()
    assert cli.wait(timeout=60) == 1
    assert "Traceback" not in errors, errors
