from __future__ import annotations

import pytest

from vokaflow.payload_limits import MAX_FIELD_BYTES, MAX_NESTING, check_json_value, check_string


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


def test_ordinary_arguments_pass_unchanged():
    value = {"a": [1, 2.5, None, True, "tâche ✓"], "b": {"c": "d"}}
    assert check_json_value(value) is value


def test_nesting_is_allowed_up_to_the_limit_and_refused_past_it():
    check_json_value(_nested(MAX_NESTING))
    with pytest.raises(ValueError, match="deeper"):
        check_json_value(_nested(MAX_NESTING + 1))


def test_a_value_over_the_size_limit_is_refused():
    with pytest.raises(ValueError, match="bytes"):
        check_json_value(["x" * MAX_FIELD_BYTES])


@pytest.mark.parametrize("value", ["\ud800", ["ok", "\udfff"], {"\ud800": 1}])
def test_lone_surrogates_in_strings_or_keys_are_refused(value):
    with pytest.raises(ValueError, match="surrogate"):
        check_json_value(value)


def test_a_string_with_a_null_character_is_valid_unicode():
    assert check_string("a\x00b") == "a\x00b"
