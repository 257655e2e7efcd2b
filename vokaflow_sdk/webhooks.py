"""Checking that a webhook delivery came from VokaFlow.

Each delivery carries ``X-VokaFlow-Timestamp: <unix seconds>`` and
``X-VokaFlow-Signature: sha256=<hex>``, the HMAC-SHA256 of ``<timestamp>.`` followed by
the raw body, keyed with the webhook's secret. Check it over the exact bytes received
(before any JSON parsing), and refuse old deliveries so that a captured one cannot be
replayed.
"""

from __future__ import annotations

from collections.abc import Mapping

from vokaflow.webhooks import signing
from vokaflow.webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from vokaflow_sdk.errors import header_value

DEFAULT_TOLERANCE_S = float(signing.DEFAULT_TOLERANCE_S)


def verify_signature(
    body: bytes,
    header: str | Mapping[str, str],
    secret: str,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    *,
    timestamp: str | int | None = None,
    now: float | None = None,
) -> bool:
    """Whether ``body`` was signed by VokaFlow with ``secret`` less than ``tolerance_s``
    seconds ago.

    ``header`` is either the request's headers (any mapping; both VokaFlow headers are
    read from it, in any letter case), or the ``X-VokaFlow-Signature`` value alone, with
    the ``X-VokaFlow-Timestamp`` value passed as ``timestamp``: the signature covers it.
    """
    signature, stamp = _signature_and_timestamp(header, timestamp)
    if not signature or stamp is None:
        return False
    return signing.verify_signature(body, stamp, signature.strip(), secret, tolerance_s, now)


def _signature_and_timestamp(
    header: str | Mapping[str, str], timestamp: str | int | None
) -> tuple[str | None, str | None]:
    if isinstance(header, str):
        signature: str | None = header
    else:
        signature = header_value(header, SIGNATURE_HEADER)
        timestamp = header_value(header, TIMESTAMP_HEADER) if timestamp is None else timestamp
    return signature, None if timestamp is None else str(timestamp).strip()
