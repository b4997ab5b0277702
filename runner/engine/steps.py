"""Running one step: its condition, its loop, rendering and sending each request, and its record.

Decisions where the language is silent:

- `if` is decided once, before `for_each` renders, unless it uses `item` or `loop`; then it is
  decided per element (a false one skips that element). So `if: "{{ x is defined }}"` can guard
  a `for_each` over `x`.
- `for_each` rendering to null runs no request (APIs often send `null` for an empty list);
  anything else that is not a list fails the step.
- The Idempotency-Key index counts from 0, like the call records (`loop.index` counts from 1).
  A step that sets the header itself keeps its own value.
- A dry run renders every request and sends none; later steps see `steps.<id>` as
  `{status: null, headers: {}, body: null, ok: true, dry_run: true}`. A step whose templates need
  an earlier step's response cannot be rendered then: it is reported as skipped with the reason,
  and does not fail the dry run. Any other rendering error fails it as it would for real.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from multidict import CIMultiDict

from runner.clock import elapsed_ms, utc_now_iso
from runner.engine.messages import (
    Headers,
    encode_body,
    header_values,
    join_url,
    query_pairs,
    read_exchange,
)
from runner.engine.recording import fill_call, request_record
from runner.engine.records import CallRecord, RequestRecord, StepRecord
from runner.engine.runtime import Runtime
from runner.errors import RunnerError, StepError, TemplateError
from runner.http.auth import StaticAuth
from runner.http.client import ConnectionClient, OutgoingRequest
from runner.recipe.compile import RequestTemplate, Step
from runner.redact import Redactor, has_credential_header
from runner.templating.values import kind_of
from runner.templating import CompiledTree, iter_templates, render_tree

MAX_ITEMS = 10_000
_FALSE_TEXT = frozenset({"", "false", "0", "no", "none", "null"})


def truthy(value: Any) -> bool:
    """How an `if:` value decides: booleans as they are, and text such as "false" or "" is false."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_TEXT
    return bool(value)


def render_request(
    template: RequestTemplate, context: dict[str, Any], runtime: Runtime, where: str = "",
    idempotency_key: str | None = None,
) -> tuple[OutgoingRequest, ConnectionClient]:
    """Renders a request template into an OutgoingRequest (and the client to send it with).

    `where` ("poll of recipe x") prefixes errors; a step's runner adds the step itself.
    """
    try:
        conn, client = runtime.connection(template.connection)
        base_url = conn.base_url if conn else None
        url = join_url(base_url, render_tree(template.url, context), "the request",
                       template.absolute_ok)
        params = query_pairs(conn.params if conn else None,
                             _mapping(render_tree(template.params, context), "params"))
        headers = header_values(conn.headers if conn else None,
                                _mapping(render_tree(template.headers, context), "headers"))
        if template.content_type is not None:
            headers["Content-Type"] = str(render_tree(template.content_type, context))
        body = None if template.body is None else render_tree(template.body, context)
        if template.body_kind == "form":
            body = _mapping(body, "form")
        data = encode_body(template.body_kind, body, headers)
    except RunnerError as exc:
        if not where:
            raise
        raise type(exc)(f"{where}: {exc}") from exc
    if idempotency_key is not None and "Idempotency-Key" not in headers:
        headers["Idempotency-Key"] = idempotency_key
    request = OutgoingRequest(template.method, url, params, headers, data, template.timeout,
                              template.expect)
    return request, client


def _mapping(value: Any, field: str) -> Mapping[str, Any] | None:
    """`params`, `headers` or `form` as rendered: written as one template, it must give a
    mapping (or null: none)."""
    if value is None or isinstance(value, Mapping):
        return value
    raise StepError(f"{field} must render to a mapping, got {kind_of(value)}")


def loop_info(index: int, length: int) -> dict[str, Any]:
    """`loop` inside a `for_each` step, with the names Jinja's own loop has."""
    return {"index": index + 1, "index0": index, "first": index == 0,
            "last": index == length - 1, "length": length, "revindex": length - index}


def uses_name(trees: list[CompiledTree | None], root: str) -> bool:
    """Whether any template of `trees` refers to the name `root`."""
    return any(
        ref.root == root
        for tree in trees if tree is not None
        for _, template in iter_templates(tree)
        for ref in template.references
    )


def _request_trees(request: RequestTemplate) -> list[CompiledTree | None]:
    return [request.url, request.params, request.headers, request.body, request.content_type]


async def dry_record(
    request: OutgoingRequest, client: ConnectionClient, redactor: Redactor, limit: int
) -> RequestRecord:
    """A dry run's record with the connection's static credentials (shown as `***`) added;
    token-based auth is left out, since obtaining a token would send a request."""
    headers, params = CIMultiDict(request.headers), list(request.params)
    if isinstance(client.settings.auth, StaticAuth):
        await client.settings.auth.apply(headers, params)
    url = request.url.extend_query(params) if params else request.url
    return request_record(request, redactor, limit, str(url), headers.items())


DRY_OUTPUT: dict[str, Any] = {"status": None, "headers": {}, "body": None, "ok": True,
                              "dry_run": True}


class StepRunner:
    """Runs the steps of one job against one runtime; `run` never raises for a step's failure."""

    def __init__(self, runtime: Runtime, job_id: str, dry_run: bool = False) -> None:
        self.runtime = runtime
        self.job_id = job_id
        self.dry_run = dry_run
        # What the job's records are redacted with: the process's redactor until the job sends
        # a credential header or receives a Set-Cookie, then one of the job's own that also
        # hides those values (an API may echo its request headers; a later step may copy the
        # cookie). Other jobs' records and the logs do not pay for them.
        self.redactor = runtime.redactor

    def _hide_credentials(self, sent: Any, received: Any) -> None:
        """Credential header values of this exchange: those sent, and cookies a response set."""
        sets_cookies = received is not None and "Set-Cookie" in received
        if not sets_cookies and not has_credential_header(sent):
            return
        if self.redactor is self.runtime.redactor:
            self.redactor = self.runtime.redactor.scoped()
        self.redactor.add_sent_headers(sent)
        if sets_cookies:
            self.redactor.add_set_cookies(received)

    async def run(self, step: Step, context: dict[str, Any]) -> StepRecord:
        """The step's record; its `output` is what later templates see (not yet redacted)."""
        started, clock = utc_now_iso(), time.perf_counter()
        record = StepRecord(step.id, "succeeded", started, 0.0)
        try:
            record.output = await self._run(step, context, record)
        except RunnerError as exc:
            if self._unrenderable(step, exc):
                record.status, record.output = "skipped", {**DRY_OUTPUT, "skipped": True}
                reason = f"not rendered in a dry run: it needs an earlier step's response ({exc})"
                record.calls.append(CallRecord(None, None, error=self._redact(reason),
                                               skipped=True))
            else:
                record.status, record.error = "failed", self._redact(f"step {step.id}: {exc}")
                record.output = {"ok": False, "error": record.error}
        record.duration_ms = elapsed_ms(clock)
        return record

    def _unrenderable(self, step: Step, exc: RunnerError) -> bool:
        if not self.dry_run or not isinstance(exc, TemplateError):
            return False
        trees = [step.condition, step.for_each, *_request_trees(step.request)]
        return uses_name(trees, "steps")

    async def _run(self, step: Step, context: dict[str, Any], record: StepRecord) -> Any:
        per_item = step.for_each is not None and (
            uses_name([step.condition], "item") or uses_name([step.condition], "loop")
        )
        if step.condition is not None and not per_item:
            if not truthy(render_tree(step.condition, context)):
                record.status = "skipped"
                record.calls.append(CallRecord(None, None, skipped=True))
                return {"skipped": True, "ok": True}
        if step.for_each is None:
            return await self._call(step, context, None, record)
        items = self._items(step, context)
        outputs: list[Any] = []
        for index, item in enumerate(items):
            scope = {**context, "item": item, "loop": loop_info(index, len(items))}
            condition = step.condition
            if per_item and condition is not None and not truthy(render_tree(condition, scope)):
                record.calls.append(CallRecord(index, None, skipped=True))
                outputs.append({"skipped": True, "ok": True})
                continue
            outputs.append(await self._item(step, scope, index, record))
            if record.status == "failed" and step.on_error == "fail":
                break
        return outputs

    def _items(self, step: Step, context: dict[str, Any]) -> list[Any]:
        items = render_tree(step.for_each, context)  # type: ignore[arg-type]
        if items is None:
            return []
        if not isinstance(items, list):
            raise StepError(f"for_each must give a list, got {kind_of(items)}")
        if len(items) > MAX_ITEMS:
            raise StepError(f"for_each gave {len(items)} items; at most {MAX_ITEMS} are allowed")
        return items

    async def _item(
        self, step: Step, scope: dict[str, Any], index: int, record: StepRecord
    ) -> dict[str, Any]:
        """One element of a `for_each`: its failure is the element's, the loop decides to go on."""
        try:
            return await self._call(step, scope, index, record)
        except RunnerError as exc:
            if self._unrenderable(step, exc):
                raise
            return self._failed(step, record, index, str(exc), {})

    async def _call(
        self, step: Step, context: dict[str, Any], index: int | None, record: StepRecord
    ) -> dict[str, Any]:
        key = None
        if step.idempotency_key:
            key = f"{self.job_id}-{step.id}" + ("" if index is None else f"-{index}")
        request, client = render_request(step.request, context, self.runtime, "", key)
        limit = self.runtime.body_limit
        if self.dry_run:
            sent = await dry_record(request, client, self.redactor, limit)
            record.calls.append(CallRecord(index, sent))
            return {**DRY_OUTPUT, "headers": Headers()}
        call = CallRecord(index, None)
        record.calls.append(call)
        exchange = await client.send(request, step.retry)
        self._hide_credentials(
            request.headers if exchange.sent_headers is None else exchange.sent_headers,
            exchange.headers,
        )
        redactor = self.redactor
        fill_call(call, exchange, redactor, limit)
        if call.request is None:  # refused before anything was sent: record it as rendered
            call.request = request_record(request, redactor, limit)
        view, problem = read_exchange(exchange, redactor)
        if problem is not None:
            call.error = self._redact(problem)
            return self._failed(step, record, index, call.error, view)
        return view

    def _failed(
        self, step: Step, record: StepRecord, index: int | None, error: str, view: dict[str, Any]
    ) -> dict[str, Any]:
        label = f"step {step.id}" + ("" if index is None else f" (item {index})")
        record.status = "failed"
        record.error = self._redact(f"{label}: {error}")
        return {**view, "ok": False, "error": record.error}

    def _redact(self, text: str) -> str:
        return self.redactor.redact_text(text)
