"""What a webhook's body, query and headers become in `trigger`: multipart forms, compressed
bodies against `max_body`, names given more than once. Through a real `runner serve` (the hub)
and, for the parsing rules alone, `parse_body` directly."""

from __future__ import annotations

import asyncio
import gzip
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest

from runner.daemon.webhook_body import parse_body
from tests.daemon.conftest import Hub
from tests.daemon.test_daemon_webhooks import forwarded, job_count


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


async def test_multipart_form_is_a_mapping_with_files_described(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    marker = uuid.uuid4().hex
    form = aiohttp.FormData()
    form.add_field("name", "Zoë")
    form.add_field("marker", marker)
    form.add_field("cv", b"line one\n", filename="cv.txt", content_type="text/plain")
    async with client.post(hub.hook("open/hook"), data=form) as response:
        assert response.status == 202
    (request,) = await forwarded(hub, "/open-hook", marker)
    seen = request.json()
    assert seen["content_type"].startswith("multipart/form-data; boundary=")
    assert seen["body"] == {
        "name": "Zoë",
        "marker": marker,
        "cv": {"filename": "cv.txt", "content_type": "text/plain", "size": 9,
               "content": "line one\n"},
    }


async def test_gzip_body_is_measured_inflated_against_max_body(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    before = await job_count(client, hub, "open-hook")
    bomb = gzip.compress(b"x" * 1_000_000)  # about 1 KB on the wire; the recipe allows 1 KiB
    assert len(bomb) < 1100
    headers = {"Content-Type": "text/plain", "Content-Encoding": "gzip"}
    async with client.post(hub.hook("open/hook"), data=bomb, headers=headers) as response:
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "body-too-large"
    assert await job_count(client, hub, "open-hook") == before

    marker = uuid.uuid4().hex  # a compressed body within the limit arrives inflated
    small = gzip.compress(f"small {marker}".encode())
    async with client.post(hub.hook("open/hook"), data=small, headers=headers) as response:
        assert response.status == 202
    (request,) = await forwarded(hub, "/open-hook", marker)
    assert request.json()["body"] == f"small {marker}"


async def test_repeated_query_parameter_keeps_its_last_value(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    marker = uuid.uuid4().hex
    url = hub.hook("open/hook") + f"?page=1&page=2&marker={marker}"
    async with client.post(url, data=b"x", headers={"Content-Type": "text/plain"}) as response:
        assert response.status == 202
    (request,) = await forwarded(hub, "/open-hook", marker)
    assert request.json()["query"] == {"page": "2", "marker": marker}


def test_form_field_given_twice_keeps_its_last_value() -> None:
    assert parse_body("application/x-www-form-urlencoded", None, b"a=1&a=3&b=") == {
        "a": "3", "b": ""}


def test_multipart_with_a_wrong_boundary_is_a_clear_error() -> None:
    body = b'--other\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--other--\r\n'
    with pytest.raises(ValueError, match="does not match its boundary"):
        parse_body("multipart/form-data; boundary=expected", None, body)
    with pytest.raises(ValueError, match="no boundary"):
        parse_body("multipart/form-data", None, body)


def test_multipart_field_name_in_rfc_2231_form_and_part_charset() -> None:
    body = (b"--b\r\nContent-Disposition: form-data; name*=UTF-8''gr%C3%BC%C3%9Fe\r\n"
            b"Content-Type: text/plain; charset=latin-1\r\n\r\nK\xe4se\r\n--b--\r\n")
    assert parse_body("multipart/form-data; boundary=b", None, body) == {"grüße": "Käse"}


def test_json_and_text_bodies_unchanged() -> None:
    assert parse_body("application/vnd.api+json; charset=utf-8", None, b'{"a": 1}') == {"a": 1}
    assert parse_body("application/json", None, b"  ") is None
    assert parse_body("text/plain", "utf-8", "Zoë".encode()) == "Zoë"
    assert parse_body("text/plain", "no-such-charset", b"abc") == "abc"
    with pytest.raises(ValueError, match="not valid JSON: .* at line 1 column 7"):
        parse_body("application/json", None, b'{"a": ')


def test_header_sent_twice_is_one_entry_joined_and_credentials_masked() -> None:
    from aiohttp.test_utils import make_mocked_request
    from multidict import CIMultiDict

    from runner.daemon.webhooks import _event

    sent = CIMultiDict([("X-Tag", "a"), ("Cookie", "s=1"), ("x-tag", "b"), ("Cookie", "t=2"),
                        ("Accept", "*/*")])
    request = make_mocked_request("POST", "/webhooks/x", headers=sent)
    headers = _event(request, b"")["headers"]
    assert headers == {"X-Tag": "a, b", "Cookie": "***", "Accept": "*/*"}


@pytest.mark.parametrize(("body", "message"), [
    (b'{"a": NaN}', "the body is not valid JSON: NaN is not a JSON value"),
    (b'[Infinity]', "the body is not valid JSON: Infinity is not a JSON value"),
    (b"[" * 5000 + b"]" * 5000, "the body is nested too deeply to read as JSON"),
])
def test_what_json_cannot_hold_is_a_bad_body(body: bytes, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_body("application/json", None, body)
    assert str(caught.value) == message


def test_a_json_body_may_start_with_a_byte_order_mark() -> None:
    assert parse_body("application/json", None, b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


@pytest.mark.parametrize(("recipe", "path", "headers", "body"), [
    ("open-hook", "open/hook", {"Content-Encoding": "gzip"}, b"not gzip at all"),
    ("open-hook", "open/hook", {"Content-Encoding": "deflate"}, b"\x00\x01 nope"),
    ("sync-answers", "sync-answers", {"Content-Type": "application/json"},
     b"[" * 5000 + b"]" * 5000),  # nested past what the JSON reader allows
])
async def test_a_body_that_cannot_be_read_is_a_400_and_starts_no_job(
    hub: Hub, client: aiohttp.ClientSession, recipe: str, path: str, headers: dict[str, str],
    body: bytes,
) -> None:
    before = await job_count(client, hub, recipe)
    headers = {"Content-Type": "text/plain", **headers}
    async with client.post(hub.hook(path), data=body, headers=headers) as response:
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "bad-body"
    assert await job_count(client, hub, recipe) == before


async def test_a_header_value_that_is_not_utf8_reaches_the_job_as_stored(hub: Hub) -> None:
    marker = uuid.uuid4().hex
    host, port = hub.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    body = f"latin-1 {marker}".encode()
    writer.write(b"POST /webhooks/open/hook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 b"Content-Type: text/plain; note=Caf\xe9\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 202")
    (request,) = await forwarded(hub, "/open-hook", marker)  # the job did not fail on it
    assert request.json()["content_type"] == "text/plain; note=Caf\ufffd"


async def test_an_encoding_the_runner_cannot_inflate_is_a_415(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    before = await job_count(client, hub, "open-hook")
    headers = {"Content-Type": "text/plain", "Content-Encoding": "compress"}
    async with client.post(hub.hook("open/hook"), data=b"hello", headers=headers) as response:
        assert response.status == 415
        assert (await response.json())["error"]["code"] == "unsupported-encoding"
    assert await job_count(client, hub, "open-hook") == before


def test_a_form_is_read_in_its_charset() -> None:
    form = "application/x-www-form-urlencoded; charset=iso-8859-1"
    assert parse_body(form, "iso-8859-1", b"c=%E9t%E9&d=caf\xe9") == {"c": "été", "d": "café"}
    assert parse_body("application/x-www-form-urlencoded", None, b"c=%C3%A9") == {"c": "é"}


async def test_expect_100_continue_refuses_an_announced_oversized_body_before_it_is_sent(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    headers = {"Content-Type": "text/plain"}
    async with client.post(hub.hook("open/hook"), data=b"x" * 4096, headers=headers,
                           expect100=True) as response:
        assert response.status == 413
    marker = uuid.uuid4().hex
    async with client.post(hub.hook("open/hook"), data=marker.encode(), headers=headers,
                           expect100=True) as response:
        assert response.status == 202
    (request,) = await forwarded(hub, "/open-hook", marker)
    assert request.json()["body"] == marker


@pytest.mark.parametrize("charset", ["punycode", "hex_codec", "zlib_codec", "no-such-charset"])
def test_a_charset_that_is_not_text_or_costs_quadratic_time_is_read_as_utf8(charset: str) -> None:
    import time

    body = b"x" * 200_000 + b"-" + b"a" * 199_999
    started = time.monotonic()
    assert parse_body(f"text/plain; charset={charset}", charset, body) == body.decode()
    assert time.monotonic() - started < 1  # punycode's decoder would take seconds
