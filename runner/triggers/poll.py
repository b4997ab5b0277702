"""Which polled records become jobs: pagination, record keys, updates, the cursor and seen keys.

The async shell renders the poll request, sends it, and commits what `select` returns (the events
as jobs, the new state) in one transaction; everything here is a pure function of its inputs,
apart from `fetch_records` awaiting the `send` it is given.

Templates. `records` and `next_page` see `response` (`status`, `headers`, `body` of the page);
`key`, `updated` and `cursor` also see `record`, and their `response` is the poll's last page.
`cursor` is the value kept from the previous poll; before there is one the name is absent, so
`cursor | default(...)` and `cursor is defined` work. The poll's own names win over the base
context.

Decisions where the language is silent:

- `records` rendering to null means an empty page; anything else that is not a list is an error.
- Pagination ends when `next_page` renders to null, empty text, false or is undefined (an absent
  `next` field on the last page is the common way APIs say "no more"). A URL already fetched in
  this poll also ends it (with a warning): an API that links back cannot loop forever.
  After `max_pages` pages the poll stops with what it has and `Fetched.truncated` is true; the
  cursor still advances to the last record fetched, and the state keeps the link not yet
  followed (`PollState.resume`): the next poll starts there instead of at the first page, so
  an API without a cursor still has every page read, `max_pages` at a time. Until such a
  first pass ends, `initial: skip` goes on only remembering.
- A key renders to text (numbers as `str`, other values as compact JSON); null or blank text is
  an error, since a record with no identity cannot be deduplicated. Errors name the template
  and the record's index in the poll's records, counting from 0: `poll key of record 3: ...`.
- A key that appears several times in one poll is one record: its last copy, emitted at the last
  copy's place (with `ORDER BY updated` the later copy is the newer one).
- `updated` is kept as a fingerprint (its value as canonical JSON). A stored empty fingerprint
  means "no version known" (the record was seen while the recipe had no `updated`): the new
  fingerprint is adopted without an update, so adding `updated:` later does not replay everything.
- The cursor comes from the poll's last record; an empty poll, or a cursor that renders to null,
  keeps the previous one. It is stored as JSON (values JSON cannot hold become text), and the
  state holds exactly what a restart reads back.

Seen keys are bounded: a key moves to the end of `seen` each time the API returns it, and the
oldest are dropped while there are more than `max(max_seen, keys returned by this poll)`. A record
the API still returns is therefore never forgotten: the limit grows to the size of one poll (itself
bounded by `max_pages`) rather than drop one. A record that the API stops returning is forgotten
once `max_seen` other keys have been returned after it; if it comes back later, it is new again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any, NamedTuple

from runner.errors import StoreError, TemplateError, UndefinedError

if TYPE_CHECKING:
    from runner.recipe.compile import Poll
    from runner.templating import Template

__all__ = [
    "DEFAULT_MAX_SEEN",
    "Fetched",
    "PollEvent",
    "PollState",
    "cursor_context",
    "fetch_records",
    "record_key",
    "select",
    "trigger_of",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_SEEN = 10_000
STATE_VERSION = 1
Send = Callable[[str | None], Awaitable[dict[str, Any]]]


@dataclass
class PollState:
    """What a recipe's poller remembers between polls; stored with the jobs it emitted."""

    cursor: Any = None
    has_cursor: bool = False
    seen: dict[str, str] = field(default_factory=dict)  # key -> fingerprint, oldest first
    initialized: bool = False
    polled_at: str | None = None  # when the poll that produced this state ran
    resume: str | None = None  # the next_page link a poll cut off at max_pages did not follow

    def to_json(self) -> str:
        """Seen keys as a list of pairs: a JSON object's order is lost in some stores (jsonb)."""
        return json.dumps({
            "version": STATE_VERSION,
            "cursor": self.cursor,
            "has_cursor": self.has_cursor,
            "initialized": self.initialized,
            "polled_at": self.polled_at,
            "seen": [[key, fingerprint] for key, fingerprint in self.seen.items()],
            "resume": self.resume,
        }, separators=(",", ":"), default=str)

    @classmethod
    def from_json(cls, text: str | bytes) -> PollState:
        try:
            data = json.loads(text)
            if data["version"] != STATE_VERSION:
                raise ValueError(f"unknown version {data['version']!r}")
            return cls(
                cursor=data["cursor"],
                has_cursor=bool(data["has_cursor"]),
                seen={str(key): str(fingerprint) for key, fingerprint in data["seen"]},
                initialized=bool(data["initialized"]),
                polled_at=data.get("polled_at"),
                resume=data.get("resume"),
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise StoreError(f"stored poll state is unreadable: {exc}") from exc


@dataclass(frozen=True)
class PollEvent:
    """One record that starts one job."""

    key: str
    is_update: bool
    record: Any


class Fetched(NamedTuple):
    """Every record of one poll in order, the last page's response, and whether pages remained."""

    records: list[Any]
    response: dict[str, Any]
    truncated: bool
    next_url: str | None = None  # when truncated: the link not followed


def trigger_of(event: PollEvent, polled_at: str) -> dict[str, Any]:
    """The job's `trigger`, as the language defines it for polls."""
    return {"record": event.record, "key": event.key, "is_update": event.is_update,
            "polled_at": polled_at}


def cursor_context(state: PollState) -> dict[str, Any]:
    """`{cursor: ...}` once a cursor exists, else nothing: undefined on the first poll."""
    return {"cursor": state.cursor} if state.has_cursor else {}


async def fetch_records(
    poll: Poll,
    send: Send,
    *,
    base_context: dict[str, Any],
    cursor_context: dict[str, Any],
    max_pages: int | None = None,
    start: str | None = None,
) -> Fetched:
    """Sends the poll (`send(None)`, or `send(start)` to go on where a cut-off poll stopped)
    and follows `next_page` (`send(url)`) up to `max_pages`."""
    limit = poll.spec.max_pages if max_pages is None else max_pages
    if limit < 1:
        raise ValueError(f"max_pages must be at least 1, got {limit}")
    records: list[Any] = []
    fetched: set[str] = set()
    url: str | None = start
    for page in range(1, limit + 1):
        response = await send(url)
        context = _context(base_context, {**cursor_context, "response": response})
        records.extend(_page_records(poll.records, context, page))
        url = _next_url(poll.next_page, context, page)
        if url is None:
            return Fetched(records, response, truncated=False)
        if url in fetched:
            log.warning("poll of %s: page %d links back to %s; pagination stopped",
                        _recipe(base_context), page, url)
            return Fetched(records, response, truncated=False)
        fetched.add(url)
    log.warning("poll of %s stopped after max_pages=%d pages; the next poll goes on from there",
                _recipe(base_context), limit)
    return Fetched(records, response, truncated=True, next_url=url)


def select(
    poll: Poll,
    records: list[Any],
    state: PollState,
    *,
    base_context: dict[str, Any],
    response: dict[str, Any],
    polled_at: str,
    max_seen: int = DEFAULT_MAX_SEEN,
) -> tuple[list[PollEvent], PollState]:
    """The events one poll emits and the state to store with them; `state` is not changed."""
    if max_seen < 1:
        raise ValueError(f"max_seen must be at least 1, got {max_seen}")
    common = _context(base_context, {**cursor_context(state), "response": response})
    rows = [_identify(poll, record, index, common) for index, record in enumerate(records)]
    last_index = {key: index for index, (key, _) in enumerate(rows)}
    emit = state.initialized or poll.spec.initial == "emit"
    seen = dict(state.seen)
    events: list[PollEvent] = []
    for index, (key, fingerprint) in enumerate(rows):
        if last_index[key] != index:
            continue  # a later copy of this key in the same poll wins
        known = seen.pop(key, None)
        seen[key] = fingerprint  # re-inserted: now the most recently returned
        is_update = bool(known and fingerprint and known != fingerprint)
        if emit and (known is None or is_update):
            events.append(PollEvent(key=key, is_update=is_update, record=records[index]))
    _forget_oldest(seen, max(max_seen, len(last_index)))
    cursor, has_cursor = _next_cursor(poll, records, state, common)
    new_state = PollState(cursor=cursor, has_cursor=has_cursor, seen=seen, initialized=True,
                          polled_at=polled_at)
    return events, new_state


def record_key(poll: Poll, record: Any, base_context: dict[str, Any]) -> str:
    """The key a poll would give `record` (its `key` template, as text), for a record given by
    hand (`runner run --event`): no page was fetched, so `response` is empty."""
    context = _context(base_context, {"response": {}, "record": record})
    return _key_text(_render(poll.key, context, "poll key of the event's record"), 0)


def _identify(poll: Poll, record: Any, index: int, common: dict[str, Any]) -> tuple[str, str]:
    """A record's key and `updated` fingerprint ("" when the recipe has no `updated`)."""
    context = {**common, "record": record}
    key = _key_text(_render(poll.key, context, f"poll key of record {index}"), index)
    if poll.updated is None:
        return key, ""
    version = _render(poll.updated, context, f"poll updated of record {index}")
    return key, json.dumps(version, sort_keys=True, separators=(",", ":"), default=str)


def _key_text(value: Any, index: int) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
    elif value is None:
        text = ""
    else:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    if not text.strip():
        raise TemplateError(
            f"poll key of record {index} is {'null' if value is None else 'empty'}: "
            "a record needs an identity to be emitted exactly once"
        )
    return text


def _next_cursor(
    poll: Poll, records: list[Any], state: PollState, common: dict[str, Any]
) -> tuple[Any, bool]:
    if poll.cursor is None or not records:
        return state.cursor, state.has_cursor
    index = len(records) - 1
    value = _render(poll.cursor, {**common, "record": records[index]},
                    f"poll cursor of record {index}")
    if value is None:
        return state.cursor, state.has_cursor
    return json.loads(json.dumps(value, default=str)), True  # as a restart would read it


def _forget_oldest(seen: dict[str, str], limit: int) -> None:
    for key in list(islice(seen, max(0, len(seen) - limit))):
        del seen[key]


def _page_records(template: Template, context: dict[str, Any], page: int) -> list[Any]:
    value = _render(template, context, f"poll records of page {page}")
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    hint = ""
    if isinstance(value, dict):
        hint = "; set `records:` to the list inside it, e.g. {{ response.body.items }}"
    raise TemplateError(f"poll records of page {page} must be a list, got {_describe(value)}{hint}")


def _next_url(template: Template | None, context: dict[str, Any], page: int) -> str | None:
    if template is None:
        return None
    try:
        value = _render(template, context, f"poll next_page of page {page}")
    except UndefinedError:
        return None
    if value is None or value is False or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise TemplateError(
            f"poll next_page of page {page} must be a URL or null, got {_describe(value)}"
        )
    return value.strip()


def _render(template: Template, context: dict[str, Any], label: str) -> Any:
    """Renders, naming the template and record in the error; keeps undefined as undefined."""
    try:
        return template.render(context)
    except UndefinedError as exc:
        raise UndefinedError(f"{label}: {exc}") from exc
    except TemplateError as exc:
        raise TemplateError(f"{label}: {exc}") from exc


def _context(base_context: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    context = {name: value for name, value in base_context.items() if name != "cursor"}
    context.update(own)
    return context


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        keys = ", ".join(str(key) for key in islice(value, 10))
        return f"a mapping with keys: {keys}" if keys else "an empty mapping"
    if isinstance(value, str):
        return f"text {value[:60]!r}"
    return f"{type(value).__name__} {str(value)[:60]}"


def _recipe(base_context: dict[str, Any]) -> str:
    recipe = base_context.get("recipe")
    return str(recipe.get("name", "?")) if isinstance(recipe, dict) else "?"
