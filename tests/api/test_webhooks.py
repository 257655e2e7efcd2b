"""Webhook configuration refused at the door, and the endpoints in the OpenAPI document
(tests/integration/test_webhooks.py delivers)."""

from __future__ import annotations

import pytest

SECRET = "webhook-test-secret"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "http://10.0.0.1/",
        "http://169.254.169.254/",
        "http://[::1]:1/",
        "http://192.168.1.1/",
        "http://127.0.0.2:9/",
    ],
)
def test_a_url_to_an_internal_address_or_another_scheme_is_refused(api, url):
    reply = api.post(
        "/api/webhooks/configure", json={"url": url, "events": ["task.completed"], "secret": SECRET}
    )
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == "validation_error"
    assert reply.json()["details"]["field"] == "url"


def test_the_webhook_endpoints_are_in_the_openapi_document(api):
    paths = api.get("/openapi.json").json()["paths"]
    assert {"post", "get"} <= set(paths["/api/webhooks/configure"]) | set(paths["/api/webhooks"])
    assert "404" in paths["/api/webhooks/{webhook_id}/deliveries"]["get"]["responses"]
    assert "400" in paths["/api/webhooks/configure"]["post"]["responses"]
