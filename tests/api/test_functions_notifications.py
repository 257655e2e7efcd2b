"""The notification functions' arguments, refused at submit
(tests/integration/test_functions_notifications.py sends)."""

from __future__ import annotations

from tests.api.submits import refused_field as _refused_field


def test_send_email_refuses_bad_addresses_and_header_injection_at_submit(api):
    assert _refused_field(api, "send_email", to="not-an-address", subject="s", body="b") == (
        "kwargs.to"
    )
    assert _refused_field(api, "send_email", to=["not-an-address"], subject="s", body="b") == (
        "kwargs.to[0]"
    )
    injected = "Hello\r\nBcc: x@y.example"
    assert _refused_field(api, "send_email", to=["a@example.com"], subject=injected, body="b") == (
        "kwargs.subject"
    )
    assert _refused_field(api, "send_email", to=["a@example.com"], subject="s", body=3) == (
        "kwargs.body"
    )


def test_send_webhook_refuses_other_schemes_and_internal_addresses_at_submit(api):
    assert _refused_field(api, "send_webhook", url="ftp://x", payload={}) == "kwargs.url"
    assert _refused_field(api, "send_webhook", url="http://169.254.169.254/", payload={}) == (
        "kwargs.url"
    )
    assert _refused_field(api, "send_webhook", url="http://10.0.0.1/hook", payload={}) == (
        "kwargs.url"
    )
    assert _refused_field(api, "send_webhook", url="https://a.example/", payload=[1]) == (
        "kwargs.payload"
    )


def test_broadcast_notification_refuses_an_audience_that_is_not_a_slug(api):
    assert _refused_field(api, "broadcast_notification", audience="Ops Team", message="m") == (
        "kwargs.audience"
    )
    assert _refused_field(api, "broadcast_notification", audience="../x", message="m") == (
        "kwargs.audience"
    )
    assert _refused_field(api, "broadcast_notification", audience="ops", message="m", data=1) == (
        "kwargs.data"
    )
