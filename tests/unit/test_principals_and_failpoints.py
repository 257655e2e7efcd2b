"""Principal names a credential may carry, and the fault-injection switch."""

from __future__ import annotations

import pytest

from vokaflow.domain.principal import Principal
from vokaflow.domain.priority import Priority
from vokaflow.failpoints import Failpoints
from vokaflow.store.api_keys import ADMIN_NAME, NameRefused, check_principal
from vokaflow.store.errors import StoreUnavailable


@pytest.mark.parametrize(
    "name",
    [
        "",
        " ",
        "a\\x00b",
        "tab\\there",
        "x" * 129,
        "\\ud800",
        "admin\\u200b",
        " admin",
        "bo\\u202eb",
    ],
)
def test_a_name_with_control_characters_or_out_of_bounds_is_refused(name):
    with pytest.raises(NameRefused):
        check_principal(name.encode().decode("unicode_escape"), "user")


def test_the_built_in_admin_s_name_is_for_admin_credentials_only():
    with pytest.raises(NameRefused, match="built-in admin"):
        check_principal(ADMIN_NAME, "user")
    check_principal(ADMIN_NAME, "admin")
    check_principal("alice@example.com", "user")


def test_a_failpoint_fires_once_per_subject_and_only_for_its_tag():
    points = Failpoints(["batch.after_begin@chaos"])
    points.reach("batch.after_begin", tag="other", subject="b1")
    points.reach("batch.after_tasks", tag="chaos", subject="b1")
    with pytest.raises(StoreUnavailable):
        points.reach("batch.after_begin", tag="chaos", subject="b1")
    points.reach("batch.after_begin", tag="chaos", subject="b1")  # the retry passes
    with pytest.raises(StoreUnavailable):
        points.reach("batch.after_begin", tag="chaos", subject="b2")


def test_a_principal_s_priority_cap_allows_its_level_and_below_only():
    capped = Principal("tenant", "user", max_priority=Priority.HIGH)
    assert [p for p in Priority if capped.may_use(p)] == list(Priority)[Priority.HIGH.level :]
    assert all(Principal("tenant", "user").may_use(p) for p in Priority)
