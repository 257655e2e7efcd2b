"""The README's settings table is the configuration reference: it must name every setting,
and nothing that is not one."""

from __future__ import annotations

import re
from pathlib import Path

from vokaflow.config import Settings
from vokaflow.vicky.registry import REGISTRY_ENV

README = Path(__file__).resolve().parents[2] / "README.md"
# read by the clients (CLI, batch job) or the model registry, not by the settings object
READ_OUTSIDE_SETTINGS = {REGISTRY_ENV, "VOKAFLOW_URL", "VOKAFLOW_API_URL", "VOKAFLOW_API_KEY"}


def _table_variables() -> set[str]:
    section = README.read_text().split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `VOKAFLOW_")]
    return {name for row in rows for name in re.findall(r"`(VOKAFLOW_[A-Z0-9_]+)`", row)}


def test_every_setting_is_in_the_readme_table():
    settings = {f"VOKAFLOW_{name.upper()}" for name in Settings.model_fields}
    assert sorted(settings - _table_variables()) == []


def test_the_readme_table_names_no_variable_that_is_not_a_setting():
    settings = {f"VOKAFLOW_{name.upper()}" for name in Settings.model_fields}
    assert sorted(_table_variables() - settings - READ_OUTSIDE_SETTINGS) == []
