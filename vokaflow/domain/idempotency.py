"""Ids derived from a principal and a key, so that repeating a request names the same
record: a resubmitted idempotency key, a batch's n-th task, a schedule's fire."""

from __future__ import annotations

import uuid

IDEMPOTENCY_NAMESPACE = uuid.UUID("6f1c2b0e-5d3a-4c8e-9a61-0b7e4f2d9c15")


def idempotent_id(owner: str, kind: str, idempotency_key: str) -> str:
    """The same principal and key always name the same task (or batch), so the record's
    existence is the dedupe check, atomic with the write and in the task's own slot."""
    return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{owner}\x00{kind}\x00{idempotency_key}"))
