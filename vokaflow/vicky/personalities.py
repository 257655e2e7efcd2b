"""Vicky's personalities, each a system prompt, from personalities.yaml beside this file."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

PERSONALITIES_FILE = Path(__file__).with_name("personalities.yaml")


@dataclass(frozen=True)
class Personality:
    name: str
    description: str
    system_prompt: str


@functools.cache
def personalities() -> dict[str, Personality]:
    raw = yaml.safe_load(PERSONALITIES_FILE.read_text())
    return {
        name: Personality(name, str(entry["description"]), str(entry["system_prompt"]))
        for name, entry in raw.items()
    }
