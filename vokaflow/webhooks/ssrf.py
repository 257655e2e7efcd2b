"""Which webhook URLs may be called: http(s) to public addresses, or to what the allowlist
(``VOKAFLOW_WEBHOOK_ALLOWED_HOSTS``: host names, addresses or CIDRs) names.

Checked at configure and again before every delivery, since DNS can change. The delivery
then connects to the address that was checked, not to a second lookup's answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]

SCHEMES = {"http": 80, "https": 443}
# A DNS name in its ASCII (IDNA) form, or an IPv6 literal.
HOST = re.compile(r"[A-Za-z0-9._-]{1,253}|[0-9A-Fa-f:.]+")


class UrlRefused(ValueError):
    """The URL may not be called; the message says why."""


class Unresolvable(OSError):
    """The host has no address now (may be temporary)."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


@dataclass(frozen=True)
class Allowlist:
    hosts: frozenset[str]
    networks: tuple[Network, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        hosts, networks = set(), []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                hosts.add(entry.strip().lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def names(self, host: str) -> bool:
        return host.lower().rstrip(".") in self.hosts

    def holds(self, address: IPAddress) -> bool:
        return any(address.version == n.version and address in n for n in self.networks)


def parse_target(url: str) -> Target:
    """What a delivery connects to, parsed by the parser deliveries use (httpx): a URL
    that passes here never fails to parse at delivery."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise UrlRefused(f"not a valid URL ({exc})") from None
    if parsed.scheme not in SCHEMES:
        raise UrlRefused("only http and https URLs are allowed")
    host = parsed.raw_host.decode("ascii", errors="replace")
    if not HOST.fullmatch(host):
        raise UrlRefused("the URL has no valid host")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise UrlRefused("the port must be between 1 and 65535")
    if parsed.userinfo:
        raise UrlRefused("credentials in the URL are not allowed; sign with the secret")
    return Target(parsed.scheme, host.lower(), parsed.port or SCHEMES[parsed.scheme])


def internal_kind(address: IPAddress) -> str | None:
    """What makes ``address`` internal (loopback, private, ...), or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local:
            return "site-local"
        if address.sixtofour is not None or address.teredo is not None:
            return "tunnelled (6to4 or Teredo)"  # they embed an IPv4 address, maybe internal
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
    kinds = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("non-global", not address.is_global),
    )
    return next((kind for kind, matches in kinds if matches), None)


def refusal(address: str, allowlist: Allowlist) -> str | None:
    """Why a delivery may not connect to ``address``; None when it may."""
    ip = ipaddress.ip_address(address)
    if allowlist.holds(ip):
        return None
    kind = internal_kind(ip)
    return None if kind is None else f"the host resolves to a {kind} address"


async def resolve(host: str, port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unresolvable(f"cannot resolve {host!r} ({exc})") from None
    addresses = list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
    if not addresses:
        raise Unresolvable(f"{host!r} has no address")
    return addresses


async def checked_addresses(
    url: str, allowlist: Allowlist, resolver: Resolver = resolve
) -> tuple[Target, list[str]]:
    """The URL's target and the addresses a delivery may connect to. Raises UrlRefused when
    any address the host resolves to is internal and not allowed (all must pass, or an
    attacker could mix a public and an internal answer), Unresolvable without an answer."""
    target = parse_target(url)
    addresses = await resolver(target.host, target.port)
    if not allowlist.names(target.host):
        reasons = (refusal(a, allowlist) for a in addresses)
        reason = next((r for r in reasons if r is not None), None)
        if reason is not None:
            raise UrlRefused(reason)
    return target, addresses
