"""The egress policy against literal addresses, URLs, DNS answers and a real local server."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.test_utils import TestServer

from runner.errors import EgressError
from runner.http.egress import (
    EgressPolicy,
    PolicyResolver,
    address_problem,
    egress_error_of,
    make_connector,
)

PUBLIC = EgressPolicy()
PRIVATE_OK = EgressPolicy(private_network=True)
HINT = "set private_network: true on the connection to allow private addresses"


class FakeResolver(AbstractResolver):
    """Answers from a table, as a DNS server under an attacker's control would."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.calls = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls += 1
        return [
            ResolveResult(
                hostname=host, host=ip, port=port, family=socket.AF_INET, proto=0, flags=0
            )
            for ip in self.answers[host]
        ]

    async def close(self) -> None:
        return None


@pytest.fixture
async def server() -> AsyncIterator[TestServer]:
    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    test_server = TestServer(app, host="127.0.0.1")
    await test_server.start_server()
    yield test_server
    await test_server.close()


async def fetch(connector: aiohttp.TCPConnector, url: str) -> str:
    async with aiohttp.ClientSession(connector=connector) as session, session.get(url) as response:
        return await response.text()


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.1", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fc00::1", "a private address"),
        ("fd00::1", "a private address"),
        ("169.254.1.1", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("fe80::1%eth0", "a link-local address"),
        ("224.0.0.1", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("100.64.0.1", "a shared (carrier-grade NAT) address"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("192.0.2.1", "a special-purpose, non-public address"),
        ("2001:db8::1", "a special-purpose, non-public address"),
        ("fec0::1", "a site-local address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("2002:7f00:1::", "a loopback address"),
        ("64:ff9b::a9fe:a9fe", "a link-local address"),
        ("::127.0.0.1", "a reserved address"),
    ],
)
def test_non_public_addresses_are_refused_with_the_reason(ip: str, reason: str) -> None:
    assert address_problem(ipaddress.ip_address(ip)) == reason
    with pytest.raises(EgressError, match=re.escape(f"is {reason}")):
        PUBLIC.check_address(ip)
    PRIVATE_OK.check_address(ip)


@pytest.mark.parametrize(
    "ip", ["8.8.8.8", "93.184.215.14", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_pass(ip: str) -> None:
    assert address_problem(ipaddress.ip_address(ip)) is None
    PUBLIC.check_address(ip)


def test_metadata_address_message_tells_what_and_how_to_allow() -> None:
    with pytest.raises(EgressError) as caught:
        PUBLIC.check_address("169.254.169.254")
    assert str(caught.value) == (
        f"refused: 169.254.169.254 is a link-local address (cloud metadata); {HINT}"
    )


def test_ipv4_mapped_address_is_judged_by_its_ipv4() -> None:
    with pytest.raises(EgressError, match=r"::ffff:7f00:1 \(IPv4 127.0.0.1\) is a loopback"):
        PUBLIC.check_url("http://[::ffff:127.0.0.1]:8080/")
    with pytest.raises(EgressError, match=r"link-local address \(cloud metadata\)"):
        PUBLIC.check_address("::ffff:169.254.169.254")
    PUBLIC.check_url("http://[::ffff:8.8.8.8]/")


def test_not_an_address_is_refused() -> None:
    with pytest.raises(EgressError, match="is not an IP address"):
        PUBLIC.check_address("example.com")


def test_url_scheme_must_be_http_or_https() -> None:
    PUBLIC.check_url("https://example.com/x")
    for url in ("ftp://example.com/", "file:///etc/passwd", "gopher://example.com/"):
        with pytest.raises(EgressError, match="only http and https"):
            PUBLIC.check_url(url)
    with pytest.raises(EgressError, match="no scheme or host"):
        PUBLIC.check_url("/relative/path")


def test_ip_literal_url_is_refused_before_any_connection() -> None:
    with pytest.raises(EgressError, match="169.254.169.254 is a link-local address"):
        PUBLIC.check_url("http://169.254.169.254/latest/meta-data/")
    with pytest.raises(EgressError, match="::1 is a loopback address"):
        PUBLIC.check_url("http://[::1]:8080/")
    PRIVATE_OK.check_url("http://127.0.0.1:8080/")


def test_legacy_numeric_hosts_are_refused() -> None:
    for url in ("http://0x7f.0.0.1/", "http://2130706433/", "http://127.1/"):
        with pytest.raises(EgressError, match="not a canonical IP address"):
            PUBLIC.check_url(url)


def test_allow_hosts_is_the_complete_list_case_insensitive() -> None:
    policy = EgressPolicy(allow_hosts=frozenset({"API.Example.com", "bücher.example", "[::1]"}))
    policy.check_url("https://api.example.com/v1")
    policy.check_url("https://API.EXAMPLE.COM./v1")
    policy.check_url("https://xn--bcher-kva.example/")
    with pytest.raises(EgressError, match="evil.example is not in allow_hosts"):
        policy.check_url("https://evil.example/")
    with pytest.raises(EgressError, match="not in allow_hosts"):
        policy.check_url("https://api.example.com.evil.example/")
    with pytest.raises(EgressError, match="::1 is a loopback"):
        policy.check_url("http://[::1]/")  # allowed host, yet still a private address


def test_refusal_never_echoes_query_or_credentials() -> None:
    with pytest.raises(EgressError) as caught:
        PUBLIC.check_url("http://user:hunter2@127.0.0.1/?token=s3cret")
    assert "hunter2" not in str(caught.value)
    assert "s3cret" not in str(caught.value)


async def test_localhost_is_refused_without_private_network(server: TestServer) -> None:
    with pytest.raises(EgressError) as caught:
        await fetch(make_connector(PUBLIC), f"http://localhost:{server.port}/")
    assert str(caught.value).startswith("refused: localhost resolves to ")
    assert "a loopback address" in str(caught.value)
    assert HINT in str(caught.value)


async def test_localhost_is_reached_with_private_network(server: TestServer) -> None:
    assert await fetch(make_connector(PRIVATE_OK), f"http://localhost:{server.port}/") == "hello"


async def test_a_public_name_answering_with_loopback_is_refused(server: TestServer) -> None:
    rebinding = FakeResolver({"public.example": ["127.0.0.1"]})
    with pytest.raises(EgressError, match="public.example resolves to 127.0.0.1"):
        await fetch(
            make_connector(PUBLIC, resolver=rebinding), f"http://public.example:{server.port}/"
        )
    assert rebinding.calls == 1


async def test_one_private_answer_among_public_ones_refuses_the_name() -> None:
    resolver = PolicyResolver(PUBLIC, FakeResolver({"mixed.example": ["8.8.8.8", "10.0.0.1"]}))
    with pytest.raises(EgressError, match="10.0.0.1, which is a private address"):
        await resolver.resolve("mixed.example", 443)


async def test_every_resolution_is_checked_so_a_changed_answer_is_caught() -> None:
    answers = FakeResolver({"flip.example": ["8.8.8.8"]})
    resolver = PolicyResolver(PUBLIC, answers)
    first = await resolver.resolve("flip.example", 80)
    assert [r["host"] for r in first] == ["8.8.8.8"]
    answers.answers["flip.example"] = ["169.254.169.254"]
    with pytest.raises(EgressError, match=r"\(cloud metadata\)"):
        await resolver.resolve("flip.example", 80)


async def test_the_connector_enforces_allow_hosts_too(server: TestServer) -> None:
    policy = EgressPolicy(private_network=True, allow_hosts=frozenset({"api.example.com"}))
    with pytest.raises(EgressError, match="localhost is not in allow_hosts"):
        await fetch(make_connector(policy), f"http://localhost:{server.port}/")
    allowed = EgressPolicy(private_network=True, allow_hosts=frozenset({"localhost"}))
    assert await fetch(make_connector(allowed), f"http://localhost:{server.port}/") == "hello"


async def test_socket_check_refuses_an_ip_literal_that_skipped_check_url(
    server: TestServer,
) -> None:
    with pytest.raises(aiohttp.ClientConnectorError) as caught:
        await fetch(make_connector(PUBLIC), f"http://127.0.0.1:{server.port}/")
    refusal = egress_error_of(caught.value)
    assert refusal is not None
    assert str(refusal) == f"refused: 127.0.0.1 is a loopback address; {HINT}"
    assert await fetch(make_connector(PRIVATE_OK), f"http://127.0.0.1:{server.port}/") == "hello"


def test_egress_error_of_finds_only_refusals() -> None:
    refusal = EgressError("refused: x")
    assert egress_error_of(refusal) is refusal
    try:
        raise RuntimeError("wrapper") from refusal
    except RuntimeError as wrapper:
        assert egress_error_of(wrapper) is refusal
    assert egress_error_of(ConnectionRefusedError(111, "refused")) is None
