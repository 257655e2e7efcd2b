"""Webhook URLs: http(s) only, never to internal addresses unless the allowlist names them."""

from __future__ import annotations

import ipaddress

import pytest

from vokaflow.webhooks.ssrf import (
    Allowlist,
    Unresolvable,
    UrlRefused,
    checked_addresses,
    internal_kind,
    parse_target,
)

NOTHING_ALLOWED = Allowlist.parse([])


def _resolving_to(*addresses: str):
    async def resolver(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolver


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "gopher://example.com/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:1/",
        "http://192.168.1.1/",
        "http://172.16.0.1/",
        "http://127.0.0.1:8000/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://[::ffff:10.0.0.1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
        "http://[fd00::1]/",
        "http://224.0.0.1/",
        "http://240.0.0.1/",
        "http://100.64.0.1/",
    ],
)
async def test_a_url_to_another_scheme_or_an_internal_address_is_refused(url):
    with pytest.raises(UrlRefused):
        await checked_addresses(url, NOTHING_ALLOWED)


async def test_a_public_address_is_allowed():
    target, addresses = await checked_addresses("https://93.184.216.34:8443/x", NOTHING_ALLOWED)
    assert (target.scheme, target.port, addresses) == ("https", 8443, ["93.184.216.34"])


async def test_an_allowlisted_address_is_allowed():
    allowed = Allowlist.parse(["127.0.0.1"])
    _, addresses = await checked_addresses("http://127.0.0.1:9/hook", allowed)
    assert addresses == ["127.0.0.1"]
    with pytest.raises(UrlRefused):
        await checked_addresses("http://127.0.0.2/hook", allowed)


async def test_an_allowlisted_cidr_covers_the_addresses_inside_it():
    allowed = Allowlist.parse(["10.0.0.0/8", "fd00::/8"])
    await checked_addresses("http://10.1.2.3/", allowed)
    await checked_addresses("http://[fd12::1]/", allowed)
    with pytest.raises(UrlRefused):
        await checked_addresses("http://192.168.0.1/", allowed)


async def test_an_allowlisted_host_name_may_resolve_to_an_internal_address():
    allowed = Allowlist.parse(["Receiver.Internal"])
    resolver = _resolving_to("10.0.0.7")
    _, addresses = await checked_addresses("http://receiver.internal./", allowed, resolver)
    assert addresses == ["10.0.0.7"]


async def test_a_host_name_resolving_to_any_internal_address_is_refused():
    resolver = _resolving_to("93.184.216.34", "10.0.0.7")
    with pytest.raises(UrlRefused, match="private"):
        await checked_addresses("http://mixed.example/", NOTHING_ALLOWED, resolver)


async def test_a_host_name_resolving_only_to_public_addresses_is_allowed():
    resolver = _resolving_to("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    _, addresses = await checked_addresses("http://example.com/", NOTHING_ALLOWED, resolver)
    assert len(addresses) == 2


async def test_a_host_without_an_address_is_unresolvable_not_refused():
    async def failing(host: str, port: int) -> list[str]:
        raise Unresolvable("no such host")

    with pytest.raises(Unresolvable):
        await checked_addresses("http://nowhere.invalid/", NOTHING_ALLOWED, failing)


@pytest.mark.parametrize("url", ["http://user:pw@example.com/", "http:///path", "http://[::1/"])
def test_a_url_with_credentials_or_without_a_valid_host_is_refused(url):
    with pytest.raises(UrlRefused):
        parse_target(url)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.169.254", "link-local"),
        ("10.0.0.1", "private"),
        ("::ffff:192.168.1.1", "private"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("fec0::1", "site-local"),
        ("2002:7f00:1::", "tunnelled (6to4 or Teredo)"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "tunnelled (6to4 or Teredo)"),
        ("8.8.8.8", None),
    ],
)
def test_internal_addresses_are_named_by_their_kind(address, kind):
    assert internal_kind(ipaddress.ip_address(address)) == kind
