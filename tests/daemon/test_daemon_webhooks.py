"""Webhooks through a real `runner serve`: each scheme, refusals, bodies, dedup, respond modes."""

from __future__ import annotations

import base64
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from standardwebhooks.webhooks import Webhook

from tests.daemon.conftest import API_TOKEN, HUB_SECRETS, Hub, until
from tests.support.servers import Reply

Signer = Callable[[bytes, dict[str, str]], dict[str, str]]


def _hex(secret: str, message: bytes, algorithm: str = "sha256") -> str:
    return hmac.new(secret.encode(), message, algorithm).hexdigest()


def sign_hmac(body: bytes, s: dict[str, str]) -> dict[str, str]:
    mac = hmac.new(s["HOOK_SECRET"].encode(), body, "sha512").digest()
    return {"X-Signature": "sha512=" + base64.b64encode(mac).decode()}


def sign_basic(body: bytes, s: dict[str, str]) -> dict[str, str]:
    token = base64.b64encode(f"hooks:{s['BASIC_PASSWORD']}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def sign_header(body: bytes, s: dict[str, str]) -> dict[str, str]:
    return {"X-Token": s["HEADER_TOKEN"]}


def sign_github(body: bytes, s: dict[str, str]) -> dict[str, str]:
    return {
        "X-Hub-Signature-256": "sha256=" + _hex(s["GITHUB_SECRET"], body),
        "X-GitHub-Delivery": str(uuid.uuid4()),
    }


def sign_stripe(body: bytes, s: dict[str, str]) -> dict[str, str]:
    ts = str(int(time.time()))
    return {"Stripe-Signature": f"t={ts},v1={_hex(s['STRIPE_SECRET'], f'{ts}.'.encode() + body)}"}


def sign_slack(body: bytes, s: dict[str, str]) -> dict[str, str]:
    ts = str(int(time.time()))
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + _hex(s["SLACK_SECRET"], f"v0:{ts}:".encode() + body),
    }


def sign_standard(body: bytes, s: dict[str, str]) -> dict[str, str]:
    msg_id, now = f"msg_{uuid.uuid4().hex}", datetime.now(UTC)
    signature = Webhook(s["SW_SECRET"]).sign(msg_id, now, body.decode())
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }


# scheme -> (webhook path, recipe name, signer); the recipe forwards to the sink path /<recipe>.
SCHEMES: dict[str, tuple[str, str, Signer]] = {
    "hmac": ("hmac-hook", "hmac-hook", sign_hmac),
    "basic": ("basic-hook", "basic-hook", sign_basic),
    "header": ("header-hook", "header-hook", sign_header),
    "github": ("github/issues", "github-hook", sign_github),
    "stripe": ("stripe-hook", "stripe-hook", sign_stripe),
    "slack": ("slack-hook", "slack-hook", sign_slack),
    "standard_webhooks": ("sw-hook", "sw-hook", sign_standard),
}
WRONG_SECRETS = {name: value[:-3] + "xyz" for name, value in HUB_SECRETS.items()}
WRONG_SECRETS["SW_SECRET"] = (
    "whsec_" + base64.b64encode(b"another-key-of-32-bytes-length!!").decode()
)
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        yield session


async def job_count(client: aiohttp.ClientSession, hub: Hub, recipe: str) -> int:
    async with client.get(
        f"{hub.url}/api/jobs",
        params={"recipe": recipe, "limit": "500"},
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    ) as response:
        assert response.status == 200
        return len((await response.json())["jobs"])


async def forwarded(hub: Hub, sink_path: str, marker: str, count: int = 1) -> list[Any]:
    """The sink's requests to `sink_path` whose JSON body holds `marker`, once `count` arrived."""

    def matching() -> list[Any]:
        found = [r for r in hub.sink.for_path(sink_path) if marker in r.text]
        return found if len(found) >= count else []

    found: list[Any] = await until(matching, 10, f"{count} request(s) to {sink_path}: {marker}")
    return found


@pytest.mark.parametrize("scheme", list(SCHEMES))
async def test_signed_webhook_is_accepted_and_reaches_the_sink(
    hub: Hub, client: aiohttp.ClientSession, scheme: str
) -> None:
    path, recipe, signer = SCHEMES[scheme]
    marker = uuid.uuid4().hex
    body = json.dumps({"scheme": scheme, "marker": marker}).encode()
    async with client.post(
        hub.hook(path), data=body, headers={**JSON, **signer(body, HUB_SECRETS)}
    ) as response:
        assert response.status == 202, await response.text()
        answer = await response.json()
    assert answer["status"] == "queued"
    [request] = await forwarded(hub, f"/{recipe}", marker)
    assert request.json()["body"] == {"scheme": scheme, "marker": marker}
    assert request.headers["Idempotency-Key"] == f"{answer['job_id']}-forward"


@pytest.mark.parametrize("scheme", list(SCHEMES))
async def test_bad_signature_is_401_and_starts_no_job(
    hub: Hub, client: aiohttp.ClientSession, scheme: str
) -> None:
    path, recipe, signer = SCHEMES[scheme]
    body = json.dumps({"scheme": scheme, "forged": True}).encode()
    before = await job_count(client, hub, recipe)
    for headers in (signer(body, WRONG_SECRETS), {}):
        async with client.post(hub.hook(path), data=body, headers={**JSON, **headers}) as response:
            assert response.status == 401
            error = (await response.json())["error"]
            challenge = response.headers.get("WWW-Authenticate")
        assert error["code"] == "unauthorized"
        # Basic auth challenges, as HTTP asks: clients that wait for it then send credentials.
        assert challenge == ('Basic realm="runner", charset="UTF-8"' if scheme == "basic" else None)
        for secret in HUB_SECRETS.values():
            assert secret not in error["message"]
    if scheme not in ("basic", "header"):  # the body is signed: changing it breaks the signature
        signed = signer(body, HUB_SECRETS)
        async with client.post(
            hub.hook(path), data=body + b" ", headers={**JSON, **signed}
        ) as response:
            assert response.status == 401
    assert await job_count(client, hub, recipe) == before


async def test_stale_stripe_signature_is_refused(hub: Hub, client: aiohttp.ClientSession) -> None:
    body = b'{"old": true}'
    ts = str(int(time.time()) - 600)  # the recipe's tolerance is 5m
    signature = _hex(HUB_SECRETS["STRIPE_SECRET"], f"{ts}.".encode() + body)
    async with client.post(
        hub.hook("stripe-hook"),
        data=body,
        headers={**JSON, "Stripe-Signature": f"t={ts},v1={signature}"},
    ) as response:
        assert response.status == 401


async def test_unknown_path_answers_404_in_the_one_error_shape(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    async with client.post(hub.hook("no/such/hook"), json={}) as response:
        assert response.status == 404
        assert response.content_type == "application/json"
        assert await response.json() == {
            "error": {
                "code": "unknown-webhook",
                "message": "no recipe serves /webhooks/no/such/hook",
            }
        }


async def test_wrong_method_is_405(hub: Hub, client: aiohttp.ClientSession) -> None:
    async with client.get(hub.hook("open/hook")) as response:
        assert response.status == 405
        assert response.headers["Allow"] == "POST"
        assert (await response.json())["error"]["code"] == "method-not-allowed"


async def test_body_over_max_body_is_413(hub: Hub, client: aiohttp.ClientSession) -> None:
    before = await job_count(client, hub, "open-hook")
    big = b'{"pad": "' + b"x" * 2000 + b'"}'  # the recipe allows 1KiB
    async with client.post(hub.hook("open/hook"), data=big, headers=JSON) as response:
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "body-too-large"
    assert await job_count(client, hub, "open-hook") == before


async def test_chunked_body_over_max_body_is_413(hub: Hub, client: aiohttp.ClientSession) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(64):  # 64 KiB offered, far past the limit: the daemon stops reading early
            sent.append(1)
            yield b"x" * 1024

    before = await job_count(client, hub, "open-hook")
    async with client.post(
        hub.hook("open/hook"), data=chunks(), headers={"Content-Type": "text/plain"}
    ) as response:
        assert "Content-Length" not in response.request_info.headers
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "body-too-large"
    assert await job_count(client, hub, "open-hook") == before


async def test_invalid_json_is_400(hub: Hub, client: aiohttp.ClientSession) -> None:
    async with client.post(hub.hook("open/hook"), data=b'{"a": ', headers=JSON) as response:
        assert response.status == 400
        error = (await response.json())["error"]
    assert error["code"] == "bad-body"
    assert "not valid JSON" in error["message"]


async def test_form_and_text_bodies_reach_templates(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    marker = uuid.uuid4().hex
    async with client.post(
        hub.hook("open/hook"), data={"name": "Zoë", "marker": marker}, params={"source": "form"}
    ) as response:
        assert response.status == 202
    async with client.post(
        hub.hook("open/hook"),
        data=f"plain {marker}".encode(),
        headers={"Content-Type": "text/plain; charset=utf-8"},
    ) as response:
        assert response.status == 202
    form, text = [r.json() for r in await forwarded(hub, "/open-hook", marker, count=2)]
    if isinstance(form["body"], str):
        form, text = text, form
    assert form["body"] == {"name": "Zoë", "marker": marker}
    assert form["query"] == {"source": "form"}
    assert form["content_type"] == "application/x-www-form-urlencoded"
    assert form["method"] == "POST" and form["received"] is True
    assert text["body"] == f"plain {marker}"


async def test_redelivery_with_the_same_dedup_value_starts_no_second_job(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    marker = uuid.uuid4().hex
    body = json.dumps({"marker": marker}).encode()
    headers = {**JSON, **sign_github(body, HUB_SECRETS)}
    async with client.post(hub.hook("github/issues"), data=body, headers=headers) as response:
        assert response.status == 202
        first = (await response.json())["job_id"]
    async with client.post(hub.hook("github/issues"), data=body, headers=headers) as response:
        assert response.status == 200
        assert await response.json() == {"job_id": first, "status": "duplicate"}
    [request] = await forwarded(hub, "/github-hook", marker)
    assert request.json()["delivery"] == headers["X-GitHub-Delivery"]
    assert len([r for r in hub.sink.for_path("/github-hook") if marker in r.text]) == 1


async def test_accepted_answers_202_with_the_job_id_and_the_job_runs(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    marker = uuid.uuid4().hex
    async with client.post(hub.hook("open/hook"), json={"marker": marker}) as response:
        assert response.status == 202
        answer = await response.json()
    assert set(answer) == {"job_id", "status"}
    [request] = await forwarded(hub, "/open-hook", marker)
    assert request.headers["Idempotency-Key"] == f"{answer['job_id']}-forward"
    assert request.json()["content_type"] == "application/json"


async def test_sync_answers_with_the_rendered_response(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    hub.sink.script("/sync-hook", Reply(json={"got": "from the sink"}))
    async with client.post(hub.hook("sync-hook"), json={"name": "Ada"}) as response:
        assert response.status == 201
        body = await response.json()
        assert response.headers["X-Job"] == body["job"]
    assert body == {"job": body["job"], "echo": "from the sink", "name": "Ada"}


async def test_sync_timeout_answers_504_and_the_job_still_completes(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    hub.sink.script("/slow-sync", Reply(json={"slow": True}, delay=1.0))
    marker = uuid.uuid4().int % 10**9
    started = time.monotonic()
    async with client.post(hub.hook("slow-sync"), json={"n": marker}) as response:
        assert response.status == 504
        error = (await response.json())["error"]
    assert time.monotonic() - started < 0.9  # the webhook's timeout is 300ms
    assert error["code"] == "job-timeout"

    async def finished() -> bool:
        async with client.get(
            f"{hub.url}/api/jobs/{error['job_id']}",
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        ) as response:
            return (await response.json())["status"] == "succeeded"

    await until(finished, 10, "the timed-out sync job to succeed")
    assert [r.json() for r in hub.sink.for_path("/slow-sync") if str(marker) in r.text] == [
        {"n": marker}
    ]


async def test_a_delivery_without_the_dedup_header_is_not_a_repeat_and_starts_its_job(
    hub: Hub, client: aiohttp.ClientSession
) -> None:
    """The contract's snippet dedups on `trigger.headers['X-GitHub-Delivery']`: a sender that
    does not send that header still gets its events in, each one a job."""
    before = await job_count(client, hub, "github-hook")
    body = json.dumps({"marker": uuid.uuid4().hex}).encode()
    headers = {k: v for k, v in {**JSON, **sign_github(body, HUB_SECRETS)}.items()
               if k != "X-GitHub-Delivery"}
    for _ in range(2):
        async with client.post(hub.hook("github/issues"), data=body, headers=headers) as response:
            assert response.status == 202
    assert await job_count(client, hub, "github-hook") == before + 2
