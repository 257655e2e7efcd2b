from __future__ import annotations

import importlib.metadata

import pytest

from vokaflow.config import load_settings
from vokaflow.errors import ConfigError
from vokaflow.functions import plugins, registry
from vokaflow.ratelimit.limits import DEFAULT_CATEGORY_LIMIT


def test_a_module_named_in_the_setting_registers_its_functions():
    plugins.load_plugins(["tests.plugins.weather_functions"])
    assert registry.find("to_fahrenheit") is not None
    assert registry.get("weather.to_fahrenheit").invoke(100) == 212
    assert registry.get("average_readings").invoke([1, 2, 3])["average"] == 2


def test_an_entry_point_in_the_group_is_loaded(monkeypatch):
    loaded: list[str] = []

    class FakeEntryPoint:
        name, value = "demo", "demo.module"

        def load(self) -> None:
            loaded.append(self.value)

    monkeypatch.setattr(
        importlib.metadata, "entry_points", lambda group: [FakeEntryPoint()] if group else []
    )
    assert plugins.load_plugins([]) == ["demo = demo.module"] and loaded == ["demo.module"]


def test_a_plugin_that_fails_to_import_names_itself():
    with pytest.raises(ConfigError, match="no_such_plugin_module"):
        plugins.load_plugins(["no_such_plugin_module"])


def test_a_category_without_a_limit_of_its_own_gets_the_default(monkeypatch):
    monkeypatch.setenv("VOKAFLOW_PLUGINS", "a.b, c")
    settings = load_settings()
    assert settings.limit_table["weather"] == DEFAULT_CATEGORY_LIMIT
    assert settings.limit_table["ml"].limit_per_second == 5_000
    assert settings.plugin_modules == ["a.b", "c"]
