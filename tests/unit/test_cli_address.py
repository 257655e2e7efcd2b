"""`vokaflow up --address` deploys onto an existing cluster, as RAY_ADDRESS does."""

from __future__ import annotations

import os

import pytest

from vokaflow import cli
from vokaflow.runtime import launcher


@pytest.mark.parametrize("command", ["up", "down"])
def test_the_address_flag_becomes_ray_address_before_the_command_runs(monkeypatch, command):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    seen = {}

    def record(settings, args):
        seen["addr"] = os.environ["RAY_ADDRESS"]
        return 0

    monkeypatch.setattr(cli, f"cmd_{command}", record)
    assert cli.main([command, "--address", "ray://head:10001"]) == 0
    assert seen["addr"] == "ray://head:10001"


@pytest.mark.parametrize(
    ("address", "host_port"),
    [("10.0.0.5:6390", ("10.0.0.5", 6390)), ("ray://head:10001", ("head", 10001))],
)
def test_a_ray_address_with_or_without_a_scheme_names_its_host_and_port(address, host_port):
    assert launcher._host_port(address) == host_port


def test_auto_is_taken_as_reachable_without_a_port():
    assert launcher._reachable("auto")
