from __future__ import annotations

import pytest

from vokaflow.config import load_settings
from vokaflow.domain import WorkerType
from vokaflow.errors import ConfigError


def test_a_bad_value_fails_with_a_message_naming_the_variable(monkeypatch):
    monkeypatch.setenv("VOKAFLOW_PORT", "eighty")
    with pytest.raises(ConfigError, match="VOKAFLOW_PORT"):
        load_settings()


def test_an_out_of_range_partition_count_is_refused(monkeypatch):
    monkeypatch.setenv("VOKAFLOW_PARTITIONS", "0")
    with pytest.raises(ConfigError, match="VOKAFLOW_PARTITIONS"):
        load_settings()


def test_pool_limits_from_the_environment_merge_over_the_defaults(monkeypatch):
    monkeypatch.setenv("VOKAFLOW_POOL_MAX_WORKERS", '{"MEMORY_INTENSIVE": 1}')
    settings = load_settings()
    assert settings.pool_max_workers[WorkerType.MEMORY_INTENSIVE] == 1
    assert settings.pool_max_workers[WorkerType.NETWORK_INTENSIVE] == 256


def test_settings_survive_the_trip_to_ray_actors(monkeypatch):
    monkeypatch.setenv("VOKAFLOW_KEY_PREFIX", "custom")
    settings = load_settings()
    again = type(settings).from_wire(settings.to_wire())
    assert again == settings


def test_defaults_match_the_spec(monkeypatch):
    for name in ("VOKAFLOW_PORT", "VOKAFLOW_PARTITIONS", "VOKAFLOW_POOL_MAX_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.port == 8000 and settings.partitions == 16
    assert settings.default_timeout_s == 300 and settings.default_retry_count == 3


def test_ray_start_options_reach_the_head_s_start_command(monkeypatch, tmp_path):
    from vokaflow.runtime.launcher import head_start_command

    monkeypatch.setenv("VOKAFLOW_HOME", str(tmp_path))
    monkeypatch.setenv(
        "VOKAFLOW_RAY_START_OPTIONS",
        '{"dashboard-agent-listen-port": 52400, "min-worker-port": 0, "max-worker-port": 0}',
    )
    command = head_start_command(load_settings(), num_cpus=2)
    assert command[1:4] == ["start", "--head", "--disable-usage-stats"]
    for flag in ("--dashboard-agent-listen-port=52400", "--min-worker-port=0", "--num-cpus=2"):
        assert flag in command


@pytest.mark.parametrize("flag", ["port", "temp-dir", "dashboard-port"])
def test_a_ray_start_option_up_sets_itself_is_refused_naming_it(monkeypatch, flag):
    monkeypatch.setenv("VOKAFLOW_RAY_START_OPTIONS", f'{{"{flag}": 1}}')
    with pytest.raises(ConfigError, match=f"VOKAFLOW_RAY_START_OPTIONS.*{flag}"):
        load_settings()
