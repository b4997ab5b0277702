"""The webhook endpoint: `/webhooks/<path>` for every enabled webhook recipe.

Order of checks: known path (404), method (405), size (413, before reading past the limit),
verification (401), body parsing (400), dedup, durable enqueue. Only after the store has
committed the job does the sender get its 2xx, so an acknowledged webhook is never lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from aiohttp import HttpVersion11, web
from aiohttp.web_protocol import RequestPayloadError
from multidict import CIMultiDict

from runner.clock import utc_now_iso
from runner.daemon.active import Active, WebhookRoute
from runner.daemon.http_errors import error_response
from runner.daemon.webhook_body import parse_body
from runner.engine.job import job_context, new_job
from runner.errors import RunnerError, StoreError, UndefinedError
from runner.jsoncodec import dumps, dumps_loose
from runner.recipe.fields import is_status
from runner.redact import mask_credential_headers
from runner.templating.values import to_text
from runner.templating import render_tree
from runner.triggers.verify import VerificationError, verify_request

log = logging.getLogger(__name__)


class WebhookHandler:
    """Turns accepted webhook requests into stored jobs; `daemon` gives store, executor, metrics."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon

    async def handle(self, request: web.Request) -> web.StreamResponse:
        active: Active = self.daemon.active
        path = request.match_info["path"].strip("/")
        route = active.webhooks.get(path)
        if route is None:
            return error_response(404, "unknown-webhook", f"no recipe serves /webhooks/{path}")
        response = await self._handle(request, route, active)
        self.daemon.metrics.webhooks.inc(route.recipe.name, str(response.status))
        return response

    async def expect(self, request: web.Request) -> web.StreamResponse | None:
        """`Expect: 100-continue`: a body already announced larger than the webhook allows is
        refused before the sender uploads it; otherwise the sender is told to go on."""
        route = self.daemon.active.webhooks.get(request.match_info["path"].strip("/"))
        too_large = (route is not None and request.content_length is not None
                     and request.content_length > route.max_body
                     and "Content-Encoding" not in request.headers)
        if too_large:
            assert route is not None
            refused = error_response(413, "body-too-large",
                                     f"the body is larger than {route.max_body} bytes")
            refused.force_close()  # the body that may still come is not read
            self.daemon.metrics.webhooks.inc(route.recipe.name, "413")
            return refused
        if request.version == HttpVersion11:
            if request.headers.get("Expect", "").lower() != "100-continue":
                return error_response(417, "expectation-failed",
                                      "only Expect: 100-continue is known")
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0  # the 100 is not the answer's start
        return None

    async def _handle(
        self, request: web.Request, route: WebhookRoute, active: Active
    ) -> web.Response:
        if not self.daemon.accepting:
            return error_response(503, "shutting-down", "the runner is shutting down; retry later")
        if request.method not in route.methods:
            allowed = ", ".join(sorted(route.methods))
            refused = error_response(405, "method-not-allowed", f"use {allowed}")
            refused.headers["Allow"] = allowed
            return refused
        try:
            body = await _read_body(request, route.max_body)
        except RequestPayloadError as exc:  # a compressed body that does not inflate, say
            reason = " ".join(str(exc).split()).removeprefix("400, message: ")
            refused = error_response(400, "bad-body", f"the body cannot be read: {reason}")
            refused.force_close()
            # The rest cannot be read either: marked read, or aiohttp would try to drain it for
            # keep-alive and log the same failure again as an unhandled exception.
            request.content.feed_eof()
            return refused
        if body is None:
            message = f"the body is larger than {route.max_body} bytes"
            return error_response(413, "body-too-large", message)
        if not _known_encoding(request.headers.get("Content-Encoding")):
            encoding = request.headers["Content-Encoding"]
            return error_response(415, "unsupported-encoding", f"Content-Encoding {encoding!r} "
                                  f"is not one of: {', '.join(sorted(_DECODED))}")
        if route.auth is not None:
            try:
                verify_request(route.auth, request.headers, body, time.time())
            except VerificationError as exc:
                fields = {"recipe": route.recipe.name, "reason": str(exc)}
                log.warning("webhook refused", extra=fields)
                refused = error_response(401, "unauthorized", str(exc))
                if route.auth.type == "basic":  # the challenge clients wait for before sending
                    refused.headers["WWW-Authenticate"] = 'Basic realm="runner", charset="UTF-8"'
                return refused
        try:
            event = _event(request, body)
        except ValueError as exc:
            return error_response(400, "bad-body", str(exc))
        return await self._accept(route, active, event)

    async def _accept(
        self, route: WebhookRoute, active: Active, event: dict[str, Any]
    ) -> web.Response:
        recipe, hook = route.recipe, route.recipe.webhook
        assert hook is not None
        redactor = active.runtime.redactor
        job = new_job(recipe.name, redactor.redact_data(event))
        dedup = None
        if hook.dedup is not None:
            try:
                dedup = _dedup_key(hook.dedup, active, recipe, job)
            except RunnerError as exc:
                return error_response(400, "bad-dedup", f"dedup: {exc}")
        executor = self.daemon.executor
        waiter = executor.waiter(job.id) if hook.spec.respond == "sync" else None
        try:
            job_id, created, claimed = await self._store(job, dedup, recipe.spec.concurrency)
        except StoreError as exc:
            executor.waiters.pop(job.id, None)
            log.error("could not store a webhook", extra={"recipe": recipe.name, "error": str(exc)})
            message = "the event could not be stored; retry later"
            return error_response(503, "store-unavailable", message)
        if not created:
            executor.waiters.pop(job.id, None)
            return _json({"job_id": job_id, "status": "duplicate"}, 200)
        if claimed:
            executor.start_claimed(job)
        else:
            executor.wake()
        if waiter is None:
            return _json({"job_id": job_id, "status": "queued"}, 202)
        return await _sync_response(route, active, job_id, waiter, hook.spec.timeout)


    async def _store(self, job: Any, dedup: str | None, concurrency: int) -> tuple[str, bool, bool]:
        """Enqueues durably; with a worker free here, claims the job in the same write so it
        starts at once (the store queues it instead when its recipe has a queue or no slot)."""
        executor, store = self.daemon.executor, self.daemon.store
        if not executor.reserve():
            return (*await store.enqueue(job, dedup), False)
        claimed = False
        try:
            job_id, created, claimed = await store.enqueue_claimed(
                job, dedup, concurrency=concurrency, owner=executor.owner, lease=executor.lease
            )
            return job_id, created, claimed
        finally:
            if not claimed:
                executor.release()


# What aiohttp inflates (br and zstd when their packages are installed; without them it says
# so, and the webhook answers 400); anything else would reach the job still encoded.
_DECODED = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd", "identity"})


def _known_encoding(value: str | None) -> bool:
    return value is None or value.strip().lower() in _DECODED


async def _read_body(request: web.Request, limit: int) -> bytes | None:
    """The body, or None as soon as it is known to exceed `limit` (nothing more is read)."""
    # Content-Length counts the bytes on the wire; with a Content-Encoding, aiohttp inflates
    # them and the chunk loop below counts what the trigger would hold (a 50 KB gzip body can
    # inflate to 50 MB).
    if request.content_length is not None and "Content-Encoding" not in request.headers:
        if request.content_length > limit:
            return None
        return await request.read()  # the size is known and allowed: one read, no chunk loop
    chunks, total = [], 0
    async for chunk in request.content.iter_chunked(65536):
        total += len(chunk)
        if total > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _event(request: web.Request, body: bytes) -> dict[str, Any]:
    """The trigger as templates see it; credential headers are stored as `***`."""
    return {
        "body": parse_body(request.headers.get("Content-Type", ""), request.charset, body),
        "headers": _valid_text(mask_credential_headers(request.headers)),
        "query": _query(request),
        "method": request.method,
        "received_at": utc_now_iso(),
    }


def _valid_text(headers: dict[str, Any]) -> dict[str, Any]:
    """Header values as text JSON can hold: bytes that are not UTF-8 (a Latin-1 `Café`) arrive
    from aiohttp as lone surrogates, which no store or request could encode; they become U+FFFD,
    so the job sees what is stored."""
    for name, value in headers.items():
        if not value.isascii():
            headers[name] = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return headers


def _query(request: web.Request) -> dict[str, str]:
    """Query parameters; one given more than once keeps its last value, as form fields do."""
    if not request.query_string:
        return {}
    return {k: v for k, v in request.query.items()}


def _dedup_key(template: Any, active: Active, recipe: Any, job: Any) -> str | None:
    """The event's dedup value; None (no deduplication) when it has none: a delivery without
    the header `dedup` reads is not a repeat of anything, so it starts its job."""
    context = job_context(active.runtime, recipe, job)
    try:
        value = render_tree(template, context)
    except UndefinedError:
        return None
    return None if value is None or value == "" else str(value)


async def _sync_response(
    route: WebhookRoute, active: Active, job_id: str, waiter: asyncio.Future[Any], timeout: float
) -> web.Response:
    # The waiter is this request's own future (the job runs in its task, which a cancelled wait
    # leaves running), so it is awaited directly: no shield, no `wait_for` task per request, and
    # the timeout is one timer that fails the future (`asyncio.timeout` costs a cancellation
    # scope per request).
    timer = asyncio.get_running_loop().call_later(timeout, _expire, waiter)
    try:
        job, steps = await waiter  # steps: the outputs as the steps saw them (whole, real)
    except TimeoutError:
        message = f"the job did not finish within {timeout:g}s; it goes on"
        return error_response(504, "job-timeout", message, job_id=job_id)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # this request itself was cancelled, not the wait by a shutdown
        return error_response(503, "shutting-down", "the runner stopped before the job finished; "
                              "it resumes when the runner starts again", job_id=job_id)
    finally:
        timer.cancel()
    if job.status != "succeeded":
        return error_response(502, "job-failed", job.error or "the job failed", job_id=job_id)
    hook = route.recipe.webhook
    assert hook is not None
    if hook.response is None:
        return _json({"job_id": job_id, "status": job.status}, 200)
    try:
        if steps is not None and not steps.keys() >= {s.id for s in job.steps}:
            # Another replica finished the job (this one ran part of it): its record from the
            # store is then all there is.
            steps = None
        rendered = render_tree(hook.response, job_context(active.runtime, route.recipe, job, steps))
        return _rendered_response(rendered, _status(rendered.get("status")))
    except (RunnerError, ValueError) as exc:
        return error_response(500, "bad-response", f"response: {exc}", job_id=job_id)


def _expire(waiter: asyncio.Future[Any]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


def _status(value: Any) -> int:
    """The response's status; a template (`"{{ 201 if ... }}"`) may render it as a number or
    as its digits, and anything else is the recipe's mistake, said as such."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not is_status(value):
        raise ValueError(f"status rendered to {dumps_loose(value)}, not an HTTP status code (100-599)")
    return int(value)


def _rendered_response(rendered: dict[str, Any], status: int) -> web.Response:
    """The sync answer: a mapping, list or null body as JSON, anything else as text (booleans
    as `true`/`false`, as templates write them); the response's own `Content-Type` wins."""
    headers = _response_headers(rendered.get("headers"))
    body = rendered.get("body")
    if isinstance(body, (dict, list)) or body is None:
        headers.setdefault("Content-Type", "application/json")
        return web.Response(body=dumps(body).encode(), status=status, headers=headers)
    headers.setdefault("Content-Type", "text/plain; charset=utf-8")
    return web.Response(body=to_text(body).encode(), status=status, headers=headers)


def _response_headers(value: Any) -> CIMultiDict[str]:
    """The response's headers; a value with a line break is the recipe's mistake, said as such
    (sending it would split the header)."""
    if value is None:
        return CIMultiDict()
    if not isinstance(value, Mapping):
        raise ValueError("headers must render to a mapping")
    headers: CIMultiDict[str] = CIMultiDict()
    for name, item in value.items():
        text = to_text(item)
        if any(c in text for c in "\r\n\0"):
            raise ValueError(f"header {name} renders to a value with a line break")
        headers[str(name)] = text
    return headers


def _json(data: dict[str, Any], status: int) -> web.Response:
    """`web.json_response` with the hot path's encoder."""
    return web.Response(text=dumps(data), status=status, content_type="application/json")
