"""Running one step: its condition, its loop, rendering and sending each request, and its record."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from runner.engine.messages import (
    BodyError,
    Headers,
    encode_body,
    header_values,
    join_url,
    parse_body,
    query_pairs,
)
from runner.engine.records import CallRecord, RequestRecord, ResponseRecord, StepRecord
from runner.engine.runtime import Runtime
from runner.errors import RunnerError, StepError
from runner.http.client import Exchange, OutgoingRequest
from runner.recipe.compile import RequestTemplate, Step
from runner.templating import render_tree

MAX_ITEMS = 10_000
_FALSE_TEXT = frozenset({"", "false", "0", "no", "none", "null"})


def truthy(value: Any) -> bool:
    """How an `if:` value decides: booleans as they are, and text such as "false" or "" is false."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_TEXT
    return bool(value)


def render_request(
    template: RequestTemplate, context: dict[str, Any], runtime: Runtime, where: str,
    idempotency_key: str | None = None,
) -> tuple[OutgoingRequest, Any]:
    """Renders a request template into an OutgoingRequest (and the client to send it with)."""
    conn, client = runtime.connection(template.connection)
    url = join_url(conn.base_url if conn else None, str(render_tree(template.url, context)), where)
    params = query_pairs(conn.params if conn else None, render_tree(template.params, context))
    headers = header_values(conn.headers if conn else None, render_tree(template.headers, context))
    if template.content_type is not None:
        headers["Content-Type"] = str(render_tree(template.content_type, context))
    body = None if template.body is None else render_tree(template.body, context)
    data = encode_body(template.body_kind, body, headers)
    if idempotency_key is not None:
        headers.setdefault("Idempotency-Key", idempotency_key)
    return OutgoingRequest(template.method, url, params, headers, data, template.timeout), client


class StepRunner:
    """Runs the steps of jobs against one runtime."""

    def __init__(self, runtime: Runtime, job_id: str, dry_run: bool = False) -> None:
        self.runtime = runtime
        self.job_id = job_id
        self.dry_run = dry_run

    async def run(self, step: Step, context: dict[str, Any]) -> StepRecord:
        started, clock = datetime.now(UTC).isoformat(), time.perf_counter()
        record = StepRecord(step.id, "succeeded", started, 0.0)
        try:
            await self._run(step, context, record)
        except RunnerError as exc:
            record.status, record.error = "failed", self._redact(f"step {step.id}: {exc}")
            if step.on_error == "continue":
                record.output = {"ok": False, "error": record.error}
        record.duration_ms = round((time.perf_counter() - clock) * 1000, 3)
        return record

    async def _run(self, step: Step, context: dict[str, Any], record: StepRecord) -> None:
        if step.for_each is None:
            if step.condition is not None and not truthy(render_tree(step.condition, context)):
                record.status, record.output = "skipped", {"skipped": True, "ok": True}
                record.calls.append(CallRecord(None, None, skipped=True))
                return
            record.output = await self._call(step, context, None, record)
            return
        items = render_tree(step.for_each, context)
        if not isinstance(items, list):
            raise StepError(f"for_each must give a list, got {type(items).__name__}")
        if len(items) > MAX_ITEMS:
            raise StepError(f"for_each gave {len(items)} items; at most {MAX_ITEMS} are allowed")
        outputs: list[Any] = []
        record.output = outputs
        for index, item in enumerate(items):
            loop = {"index": index + 1, "index0": index, "first": index == 0,
                    "last": index == len(items) - 1, "length": len(items)}
            scope = {**context, "item": item, "loop": loop}
            if step.condition is not None and not truthy(render_tree(step.condition, scope)):
                outputs.append({"skipped": True, "ok": True})
                record.calls.append(CallRecord(index, None, skipped=True))
                continue
            outputs.append(await self._call(step, scope, index, record))
            if record.status == "failed" and step.on_error == "fail":
                return

    async def _call(
        self, step: Step, context: dict[str, Any], index: int | None, record: StepRecord
    ) -> dict[str, Any]:
        key = None
        if step.idempotency_key:
            key = f"{self.job_id}-{step.id}" + ("" if index is None else f"-{index}")
        request, client = render_request(step.request, context, self.runtime, f"step {step.id}", key)
        call = CallRecord(index, self._request_record(request))
        record.calls.append(call)
        if self.dry_run:
            return {"status": None, "headers": Headers(), "body": None, "ok": True, "dry_run": True}
        exchange = await client.send(request, step.retry)
        call.attempts = exchange.attempts
        if exchange.sent_url is not None and call.request is not None:
            call.request.url = self.runtime.redactor.redact_url(str(exchange.sent_url))
        if exchange.sent_headers is not None and call.request is not None:
            pairs = list(exchange.sent_headers.items())
            call.request.headers = self.runtime.redactor.redact_header_pairs(pairs)
        return self._outcome(step, exchange, call, record)

    def _outcome(
        self, step: Step, exchange: Exchange, call: CallRecord, record: StepRecord
    ) -> dict[str, Any]:
        request = exchange.request
        where = f"{request.method} {self._redact(str(exchange.sent_url or request.url))}"
        if not exchange.responded:
            call.error = self._redact(f"{where} failed: {exchange.error}")
            return self._failed(step, record, call.error, {})
        call.response = self._response_record(exchange)
        headers = Headers(list(exchange.headers.items()) if exchange.headers else [])
        view: dict[str, Any] = {"status": exchange.status, "headers": headers, "ok": True}
        try:
            view["body"] = parse_body(headers.get("Content-Type", ""), exchange.body)
        except BodyError as exc:
            view["body"] = exchange.body.decode("utf-8", errors="replace")
            call.error = self._redact(f"{where}: {exc}; body starts with: {_start(exchange.body)}")
            return self._failed(step, record, call.error, view)
        expect = step.request.expect
        accepted = exchange.status in expect if expect else 200 <= (exchange.status or 0) < 300
        if not accepted:
            wanted = ", ".join(str(s) for s in sorted(expect)) if expect else "2xx"
            call.error = self._redact(
                f"{where} answered {exchange.status} {exchange.reason} (expected {wanted}); "
                f"body starts with: {_start(exchange.body)}"
            )
            return self._failed(step, record, call.error, view)
        return view

    def _failed(
        self, step: Step, record: StepRecord, error: str, view: dict[str, Any]
    ) -> dict[str, Any]:
        record.status = "failed"
        record.error = f"step {step.id}: {error}"
        return {**view, "ok": False, "error": record.error}

    def _redact(self, text: str) -> str:
        return self.runtime.redactor.redact_text(text)

    def _request_record(self, request: OutgoingRequest) -> RequestRecord:
        body, cut = self._cut(request.data)
        return RequestRecord(
            request.method,
            self.runtime.redactor.redact_url(str(request.url.update_query(request.params) if request.params else request.url)),
            self.runtime.redactor.redact_header_pairs(list(request.headers.items())),
            body, cut,
        )

    def _response_record(self, exchange: Exchange) -> ResponseRecord:
        body, cut = self._cut(exchange.body)
        headers = list(exchange.headers.items()) if exchange.headers else []
        return ResponseRecord(
            exchange.status or 0, exchange.reason,
            self.runtime.redactor.redact_header_pairs(headers), body, cut,
        )

    def _cut(self, data: bytes | None) -> tuple[str | None, bool]:
        if data is None:
            return None, False
        limit = self.runtime.body_limit
        text = data[:limit].decode("utf-8", errors="replace")
        return self._redact(text), len(data) > limit


def _start(body: bytes, size: int = 200) -> str:
    text = body[:size].decode("utf-8", errors="replace").replace("\n", " ").strip()
    return (text + "…") if len(body) > size else (text or "(empty)")
