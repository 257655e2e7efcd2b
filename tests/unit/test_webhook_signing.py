"""The webhook signature: HMAC-SHA256 over "timestamp." + body, in a header and in the body."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from vokaflow.webhooks.signing import sign, signed_body, unsigned_bytes, verify_signature

SECRET = "s3cret-for-tests"
PAYLOAD = {
    "event": "task.completed",
    "timestamp": "2025-05-31T00:52:46.682244",
    "data": {"task_id": "t1", "result": {"mean": 2.5, "text": "naïve ✓"}, "execution_time": 0.1},
}


def _now() -> str:
    return str(int(time.time()))


def test_a_body_signed_with_the_secret_verifies():
    timestamp = _now()
    body = signed_body(PAYLOAD, SECRET, timestamp)
    assert verify_signature(body, timestamp, sign(SECRET, timestamp, body), SECRET)


def test_a_signature_over_a_changed_body_is_refused():
    timestamp = _now()
    body = signed_body(PAYLOAD, SECRET, timestamp)
    signature = sign(SECRET, timestamp, body)
    changed = body.replace(b"t1", b"t2")
    assert not verify_signature(changed, timestamp, signature, SECRET)


def test_a_signature_made_with_another_secret_is_refused():
    timestamp = _now()
    body = signed_body(PAYLOAD, SECRET, timestamp)
    assert not verify_signature(body, timestamp, sign("other", timestamp, body), SECRET)


def test_a_signature_moved_to_another_timestamp_is_refused():
    timestamp = _now()
    body = signed_body(PAYLOAD, SECRET, timestamp)
    later = str(int(timestamp) + 1)
    assert not verify_signature(body, later, sign(SECRET, timestamp, body), SECRET)


def test_a_timestamp_older_than_the_tolerance_is_refused():
    stale = str(int(time.time()) - 301)
    body = signed_body(PAYLOAD, SECRET, stale)
    assert not verify_signature(body, stale, sign(SECRET, stale, body), SECRET)
    assert verify_signature(body, stale, sign(SECRET, stale, body), SECRET, tolerance_s=600)


def test_a_timestamp_far_in_the_future_is_refused():
    future = str(int(time.time()) + 3600)
    body = signed_body(PAYLOAD, SECRET, future)
    assert not verify_signature(body, future, sign(SECRET, future, body), SECRET)


def test_a_timestamp_that_is_not_whole_seconds_is_refused():
    body = signed_body(PAYLOAD, SECRET, "1")
    for timestamp in ("", "12.5", "-1", "abc", "١٢٣"):
        assert not verify_signature(body, timestamp, sign(SECRET, timestamp, body), SECRET)


def test_the_signature_member_is_last_and_the_rest_is_the_compact_unsigned_json():
    timestamp = _now()
    body = signed_body(PAYLOAD, SECRET, timestamp)
    parsed = json.loads(body)
    assert list(parsed) == ["event", "timestamp", "data", "signature"]
    assert parsed["signature"] == sign(SECRET, timestamp, unsigned_bytes(PAYLOAD))
    assert body.startswith(unsigned_bytes(PAYLOAD)[:-1])


def test_a_receiver_with_only_the_parsed_json_can_recompute_the_body_signature():
    timestamp = _now()
    parsed = json.loads(signed_body(PAYLOAD, SECRET, timestamp))
    claimed = parsed.pop("signature")
    rebuilt = json.dumps(parsed, separators=(",", ":")).encode()
    expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + rebuilt, hashlib.sha256)
    assert claimed == "sha256=" + expected.hexdigest()


def test_the_readme_recipe_accepts_a_delivery_and_refuses_a_stale_one():
    def check(body: bytes, headers: dict[str, str], secret: str) -> bool:
        # the six lines in README.md, "Webhooks"
        timestamp = headers["X-VokaFlow-Timestamp"]
        if abs(time.time() - int(timestamp)) > 300:
            return False
        mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
        expected = "sha256=" + mac.hexdigest()
        return hmac.compare_digest(expected, headers["X-VokaFlow-Signature"])

    for timestamp, accepted in ((_now(), True), (str(int(time.time()) - 400), False)):
        body = signed_body(PAYLOAD, SECRET, timestamp)
        headers = {
            "X-VokaFlow-Timestamp": timestamp,
            "X-VokaFlow-Signature": sign(SECRET, timestamp, body),
        }
        assert check(body, headers, SECRET) is accepted
