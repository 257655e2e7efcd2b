"""Bounds on the free-form JSON a task carries (args, kwargs, metadata): its nesting depth,
its size, and strings that UTF-8 can encode. Checked at submit, so that a task accepted
can always be stored and run, and one client cannot fill Redis with one task."""

from __future__ import annotations

import json
from typing import Any

MAX_NESTING = 32
MAX_FIELD_BYTES = 256 * 1024  # larger inputs belong in a file under a data root


def check_string(text: str) -> str:
    """``text``, if UTF-8 can encode it (JSON allows lone surrogates; Redis cannot store them)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains a lone UTF-16 surrogate, which is not valid Unicode") from None
    return text


def check_json_value(value: Any) -> Any:
    """``value``, if it nests at most MAX_NESTING deep, its strings (and keys) are valid
    Unicode and it serialises to at most MAX_FIELD_BYTES."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ValueError(f"nests deeper than {MAX_NESTING} levels")
        if isinstance(item, str):
            check_string(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                check_string(str(key))
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    size = len(json.dumps(value, separators=(",", ":")).encode())
    if size > MAX_FIELD_BYTES:
        raise ValueError(f"takes {size} bytes as JSON; the limit is {MAX_FIELD_BYTES}")
    return value
