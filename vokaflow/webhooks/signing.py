"""How a webhook body is signed, and how a receiver checks it.

The header signature is HMAC-SHA256(secret, f"{timestamp}." + raw body), sent as
``X-VokaFlow-Signature: sha256=<hex>`` beside ``X-VokaFlow-Timestamp: <unix seconds>``.
The body's own ``signature`` member is the same HMAC over the body without that member:
the body is the compact JSON of the unsigned payload with ``signature`` appended last, so a
receiver holding only the parsed JSON can rebuild the signed bytes with
``json.dumps(payload_without_signature, separators=(",", ":"))``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

SCHEME = "sha256="
DEFAULT_TOLERANCE_S = 300
SIGNATURE_HEADER = "X-VokaFlow-Signature"
TIMESTAMP_HEADER = "X-VokaFlow-Timestamp"


def principal_secret(notify_secret: str, principal: str) -> str:
    """The secret that signs ``send_webhook`` deliveries of one principal's tasks, derived
    from VOKAFLOW_NOTIFY_WEBHOOK_SECRET: a receiver checking with its own principal's never
    accepts a body another principal's task made."""
    mac = hmac.new(notify_secret.encode(), b"send_webhook\x00" + principal.encode(), hashlib.sha256)
    return mac.hexdigest()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SCHEME + mac.hexdigest()


def unsigned_bytes(payload: dict[str, Any]) -> bytes:
    """The payload without its signature member, as the bytes its signature covers."""
    unsigned = {k: v for k, v in payload.items() if k != "signature"}
    return json.dumps(unsigned, separators=(",", ":")).encode()


def signed_body(payload: dict[str, Any], secret: str, timestamp: str) -> bytes:
    """The bytes to send: the unsigned JSON with ``"signature"`` added as its last member."""
    unsigned = unsigned_bytes(payload)
    member = json.dumps({"signature": sign(secret, timestamp, unsigned)}, separators=(",", ":"))
    return unsigned[:-1] + b"," + member[1:].encode()


def verify_signature(
    body: bytes,
    timestamp: str,
    signature: str,
    secret: str,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now_s: float | None = None,
) -> bool:
    """Whether ``signature`` signs ``timestamp`` and ``body`` with ``secret``, and the
    timestamp is within ``tolerance_s`` of now (a replayed old delivery is refused)."""
    if not (timestamp.isascii() and timestamp.isdigit()):
        return False
    now = time.time() if now_s is None else now_s
    if abs(now - int(timestamp)) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.encode())
