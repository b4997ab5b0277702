"""One poll of a recipe's poll trigger: send the request, follow its pages, pick the new records.

The pure decisions (pagination limits, keys, updates, the cursor, seen keys) are
`runner.triggers.poll`'s; this is the async shell that renders and sends. The caller (the
daemon, or `runner run` for a poll recipe) stores the events and the new state together.

Decisions where the language is silent:

- The poll request sees `secrets`, `vars`, `recipe` and, once a previous poll kept one, `cursor`.
  It carries no Idempotency-Key: it reads, and is not part of a job.
- `next_page` is a link as APIs return it: it is resolved against the URL of the page that
  returned it (so `/v3/items?page=2` and `?page=2` both work) and replaces the request's own
  `params`; the connection's params and auth still apply. Method, headers and body stay.
  A link to another origin fails the poll: it would carry the connection's credentials there.
- A page that fails (no response, a status outside `expect`/2xx, a body that is not the JSON it
  claims) fails the whole poll with an error naming the recipe, method, URL, status and body
  start; nothing is emitted and the state is not advanced, so the next poll tries again.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from yarl import URL

from runner.engine.job import recipe_context
from runner.engine.messages import query_pairs, read_exchange
from runner.engine.runtime import Runtime
from runner.engine.steps import render_request
from runner.errors import StepError, TemplateError
from runner.http.client import OutgoingRequest
from runner.recipe.compile import Poll, Recipe
from runner.triggers.poll import PollState, cursor_context, fetch_records, select, trigger_of

__all__ = ["PollOutcome", "poll_once"]


@dataclass
class PollOutcome:
    """What one poll found: the jobs' triggers, the state to store with them, and counts."""

    events: list[dict[str, Any]]  # trigger dicts {record, key, is_update, polled_at}, in order
    state: PollState
    pages: int
    truncated: bool  # max_pages was reached while the API still had pages
    records: int  # records returned, before selection


class _Pages:
    """Sends the first page, then each `next_page` link, remembering where the last one was."""

    def __init__(self, runtime: Runtime, poll: Poll, context: dict[str, Any], where: str) -> None:
        self.where = where
        self.runtime = runtime
        self.first, self.client = render_request(poll.request, context, runtime, where)
        conn, _ = runtime.connection(poll.request.connection)
        self.connection_params = query_pairs(conn.params if conn else None)
        self.last_url = self.first.url
        self.count = 0

    async def send(self, link: str | None) -> dict[str, Any]:
        request = self.first if link is None else self._next(link)
        self.count += 1
        exchange = await self.client.send(request)
        self.last_url = exchange.final_url or request.url
        view, problem = read_exchange(exchange, self.runtime.redactor)
        if problem is not None:
            page = "" if self.count == 1 else f" (page {self.count})"
            raise StepError(self.runtime.redactor.redact_text(f"{self.where}{page}: {problem}"))
        return {"status": view["status"], "headers": view["headers"], "body": view["body"]}

    def _next(self, link: str) -> OutgoingRequest:
        try:
            url = self.last_url.join(URL(link))
        except ValueError:
            raise StepError(f"{self.where}: next_page {link[:80]!r} is not a URL") from None
        if url.scheme not in ("http", "https") or not url.host:
            shown = self.runtime.redactor.redact_url(link[:80])
            raise StepError(f"{self.where}: next_page {shown!r} is not an http or https URL")
        if url.origin() != self.first.url.origin():
            shown = self.runtime.redactor.redact_url(str(url.origin()))
            raise StepError(f"{self.where}: next_page leads to another origin ({shown}); the "
                            "connection's credentials are never sent to another origin")
        params = [(k, v) for k, v in self.connection_params if k not in url.query]
        return replace(self.first, url=url, params=params)


async def poll_once(
    runtime: Runtime, recipe: Recipe, state: PollState, *, now: datetime | None = None
) -> PollOutcome:
    """Polls once from `state`; returns the events to start and the state to store with them."""
    poll = recipe.poll
    if poll is None:
        raise StepError(f"recipe {recipe.name} has no poll trigger")
    polled_at = (now or datetime.now(UTC)).isoformat()
    where = f"poll of recipe {recipe.name}"
    try:
        base = recipe_context(runtime, recipe)
        cursor = cursor_context(state)
        pages = _Pages(runtime, poll, {**base, **cursor}, where)
        fetched = await fetch_records(poll, pages.send, base_context=base, cursor_context=cursor,
                                      start=state.resume)
        events, new_state = select(
            poll, fetched.records, state, base_context=base, response=fetched.response,
            polled_at=polled_at,
        )
        if fetched.next_url is not None:  # cut off at max_pages: the next poll goes on there
            new_state.resume = str(pages.last_url.join(URL(fetched.next_url)))  # absolute
            # `initial: skip` goes on only remembering until the first pass has read every page.
            new_state.initialized = state.initialized
    except TemplateError as exc:
        if str(exc).startswith(where):
            raise
        raise type(exc)(runtime.redactor.redact_text(f"{where}: {exc}")) from exc
    return PollOutcome(
        events=[trigger_of(event, polled_at) for event in events],
        state=new_state,
        pages=pages.count,
        truncated=fetched.truncated,
        records=len(fetched.records),
    )
