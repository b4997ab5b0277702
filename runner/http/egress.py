"""The egress policy: which URLs and addresses a connection's requests may reach.

Unless a connection says `private_network: true`, requests must not reach loopback, private,
link-local (cloud metadata), multicast, reserved or other non-public addresses, whether named
directly or through DNS. Three checks enforce it:

- `EgressPolicy.check_url` before every request and every redirect hop: scheme, `allow_hosts`,
  and IP-literal hosts (aiohttp never asks the resolver about those).
- `PolicyResolver` inside the connector: a name is refused when *any* of its addresses is
  non-public, and the connector connects only to the addresses it returned, so a DNS answer
  that changes between check and connect (rebinding) cannot slip through.
- the connector's socket factory checks each address right before `connect()`, whatever path it
  came by. This is the peer check: aiohttp releases a response's connection as soon as a small
  body is read, so the peer cannot be reliably read back from a response.

What callers see (aiohttp 3.14): `check_url` and the resolver raise `EgressError`, which comes out
of `session.request()` unwrapped; the socket check raises `RefusedAddress`, an OSError that aiohttp
wraps in `ClientConnectorError`. `egress_error_of(exc)` finds the refusal either way, so the engine
reports it and never retries it as a connection failure.

A connection with a proxy gets no address checks in its connector: aiohttp resolves only the
proxy, which is the operator's own choice, and the proxy resolves the target out of our sight;
`check_url` still applies to every target.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl as ssl_module
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohappyeyeballs import AddrInfoType, SocketFactoryType
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from runner.errors import EgressError

__all__ = [
    "EgressPolicy",
    "PolicyResolver",
    "RefusedAddress",
    "address_problem",
    "egress_error_of",
    "make_connector",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_HINT = "set private_network: true on the connection to allow private addresses"
#: The hint for a request without a connection: there is no connection to set it on.
BARE_URL_HINT = ("a request without a connection reaches public addresses only; send it "
                 "through a connection with private_network: true")
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, RFC 6598
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
_PRIVATE = tuple(
    ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")
)


class RefusedAddress(OSError):
    """A socket-level refusal: an OSError so aiohttp wraps it (`ClientConnectorError.os_error`)."""

    def __init__(self, error: EgressError) -> None:
        super().__init__(str(error))
        self.egress_error = error


@dataclass(frozen=True)
class EgressPolicy:
    """One connection's egress rules, built once when documents load."""

    private_network: bool = False
    allow_hosts: frozenset[str] | None = None
    hint: str = _HINT  # what a refusal of a private address suggests
    _allowed: frozenset[str] | None = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self.allow_hosts is not None:
            allowed = frozenset(_normalise_host(h) for h in self.allow_hosts)
            object.__setattr__(self, "_allowed", allowed)

    def check_url(self, url: URL | str) -> None:
        """Refuse a URL this connection may not request; never echoes query or credentials."""
        url = URL(url) if isinstance(url, str) else url
        if url.scheme and url.scheme not in ("http", "https"):
            raise EgressError(f"refused: only http and https URLs are allowed, got {url.scheme!r}")
        if not url.scheme or not url.raw_host:
            raise EgressError("refused: the URL has no scheme or host (is base_url missing?)")
        self.check_host(url.raw_host)
        literal = _ip_literal(url.raw_host)
        if literal is not None:
            self.check_address(literal)

    def check_host(self, host: str) -> None:
        """Refuse a host name that is not in `allow_hosts` (when given)."""
        if self._allowed is not None and _normalise_host(host) not in self._allowed:
            allowed = ", ".join(sorted(self._allowed)) or "none"
            raise EgressError(f"refused: {host} is not in allow_hosts ({allowed})")
        if not self.private_network and _looks_numeric(host) and _ip_literal(host) is None:
            # `127.1`, `0x7f.1`, `2130706433`: legacy forms the C library maps to addresses.
            raise EgressError(f"refused: {host} is not a canonical IP address")

    def check_address(self, ip: str | IPAddress, *, host: str | None = None) -> None:
        """Refuse a non-public address unless the connection allows private networks."""
        if self.private_network:
            return
        try:
            address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
        except ValueError:
            raise EgressError(f"refused: {ip!r} is not an IP address") from None
        reason = address_problem(address)
        if reason is None:
            return
        embedded = _embedded_ipv4(address)
        if (embedded or address) in _METADATA:
            reason += " (cloud metadata)"
        shown = f"{address} (IPv4 {embedded})" if embedded else str(address)
        subject = f"{host} resolves to {shown}, which" if host else shown
        raise EgressError(f"refused: {subject} is {reason}; {self.hint}")


def address_problem(address: IPAddress) -> str | None:
    """Say what makes `address` non-public, or None for a public address."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_problem(embedded)
    checks: tuple[tuple[bool, str], ...] = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (
            isinstance(address, ipaddress.IPv6Address) and address.is_site_local,
            "a site-local address",
        ),
        (address in _SHARED, "a shared (carrier-grade NAT) address"),
        (any(address in n for n in _PRIVATE), "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "a special-purpose, non-public address"),
    )
    return next((reason for failed, reason in checks if failed), None)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@functools.lru_cache(maxsize=1024)
def _ip_literal(host: str) -> IPAddress | None:
    """The address `host` spells, if it is one (cached: every request of a step asks)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _looks_numeric(host: str) -> bool:
    """True for hosts whose last label is a number: never a DNS name, always an address form."""
    last = host.rstrip(".").rsplit(".", 1)[-1].lower()
    return last.isdigit() or (last.startswith("0x") and _is_hex(last[2:]))


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdef" for c in text)


def _normalise_host(host: str) -> str:
    """Lower-case, IDNA-encoded, without brackets or a trailing dot: comparable host names."""
    bare = host.strip().strip("[]").rstrip(".")
    literal = _ip_literal(bare)
    if literal is not None:
        return str(literal)
    return (URL.build(scheme="http", host=bare).raw_host or bare).lower()


class PolicyResolver(AbstractResolver):
    """Resolve with `inner` and refuse a name when any of its addresses breaks the policy."""

    def __init__(self, policy: EgressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner if inner is not None else ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self._policy.check_host(host)
        results = await self._inner.resolve(host, port, family)
        for result in results:
            self._policy.check_address(result["host"], host=host)
        return results

    async def close(self) -> None:
        await self._inner.close()


def make_connector(
    policy: EgressPolicy,
    *,
    ssl: ssl_module.SSLContext | bool = True,
    proxied: bool = False,
    resolver: AbstractResolver | None = None,
    **kwargs: Any,
) -> aiohttp.TCPConnector:
    """Build the connector of one connection's session; `resolver` replaces the system DNS."""
    if proxied:
        return aiohttp.TCPConnector(ssl=ssl, resolver=resolver, **kwargs)
    if not policy.private_network:
        kwargs["socket_factory"] = _checked_socket_factory(policy)
    return aiohttp.TCPConnector(ssl=ssl, resolver=PolicyResolver(policy, resolver), **kwargs)


def _checked_socket_factory(policy: EgressPolicy) -> SocketFactoryType:
    """Check each address right before connect(), the last point before bytes leave."""

    def create(addr_info: AddrInfoType) -> socket.socket:
        family, type_, proto, _, sockaddr = addr_info
        try:
            policy.check_address(str(sockaddr[0]))
        except EgressError as exc:
            raise RefusedAddress(exc) from exc
        return socket.socket(family=family, type=type_, proto=proto)

    return create


def egress_error_of(exc: BaseException) -> EgressError | None:
    """Find the egress refusal behind an exception aiohttp raised, so it is never retried."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, EgressError):
            return current
        if isinstance(current, RefusedAddress):
            return current.egress_error
        os_error = getattr(current, "os_error", None)
        current = os_error if isinstance(os_error, BaseException) else current.__cause__
    return None
