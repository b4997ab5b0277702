"""Poll selection (new, updated, seen keys, cursor) and pagination against a real local server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from runner.errors import StoreError, TemplateError
from runner.recipe.compile import Poll, compile_recipe
from runner.recipe.loader import load_text
from runner.triggers.poll import (
    PollEvent,
    PollState,
    cursor_context,
    fetch_records,
    select,
    trigger_of,
)
from tests.support.servers import serve_app

BASE = {"vars": {}, "recipe": {"name": "issues"}}
RESPONSE = {"status": 200, "headers": {}, "body": {}}
FIELDS = {
    "records": "{{ response.body.issues }}",
    "key": "{{ record.id }}",
    "updated": "{{ record.updated }}",
    "cursor": "{{ record.updated }}",
}


def make_poll(**fields: str | int) -> Poll:
    lines = [f"    {name}: {value!r}" if isinstance(value, int) else f"    {name}: '{value}'"
             for name, value in fields.items()]
    text = (
        "kind: recipe\nname: issues\ntrigger:\n  poll:\n    every: 5m\n"
        "    request: {url: 'http://127.0.0.1/issues'}\n" + "\n".join(lines) + "\n"
    )
    result = load_text(text, "f.yaml")
    assert not result.diagnostics, result.diagnostics
    poll = compile_recipe(result.documents[0].spec).poll
    assert poll is not None
    return poll


def issue(id_: int, updated: str = "2024-05-01") -> dict[str, Any]:
    return {"id": id_, "updated": updated}


def run(
    poll: Poll, records: list[Any], state: PollState, **kwargs: Any
) -> tuple[list[PollEvent], PollState]:
    kwargs.setdefault("polled_at", "2024-05-01T12:00:00Z")
    return select(poll, records, state, base_context=BASE, response=RESPONSE, **kwargs)


def summary(events: list[PollEvent]) -> list[tuple[str, bool]]:
    return [(e.key, e.is_update) for e in events]


# --- select ------------------------------------------------------------------------------------


def test_first_poll_with_initial_skip_emits_nothing_but_remembers_everything() -> None:
    poll = make_poll(**FIELDS)
    events, state = run(poll, [issue(1), issue(2)], PollState())
    assert events == []
    assert state.initialized and list(state.seen) == ["1", "2"]
    assert state.cursor == "2024-05-01" and state.has_cursor
    events, _ = run(poll, [issue(1), issue(2), issue(3)], state)
    assert summary(events) == [("3", False)]


def test_first_poll_with_initial_emit_emits_every_record_in_order() -> None:
    poll = make_poll(**FIELDS, initial="emit")
    events, state = run(poll, [issue(2), issue(1)], PollState())
    assert summary(events) == [("2", False), ("1", False)]
    assert events[0].record == issue(2)
    assert state.initialized


def test_poll_emits_new_updated_and_skips_unchanged_records_across_polls() -> None:
    poll = make_poll(**FIELDS)
    _, state = run(poll, [issue(1, "a"), issue(2, "a")], PollState())
    events, state = run(poll, [issue(1, "a"), issue(2, "b"), issue(3, "a")], state)
    assert summary(events) == [("2", True), ("3", False)]
    assert events[0].record == issue(2, "b")
    events, state = run(poll, [issue(1, "a"), issue(2, "b"), issue(3, "a")], state)
    assert events == []
    events, state = run(poll, [issue(3, "c"), issue(1, "a")], state)
    assert summary(events) == [("3", True)]


def test_poll_emits_updated_record_once() -> None:
    poll = make_poll(**FIELDS)
    _, state = run(poll, [issue(1, "a")], PollState())
    events, state = run(poll, [issue(1, "b")], state)
    assert summary(events) == [("1", True)]
    events, state = run(poll, [issue(1, "b")], state)
    assert events == []


def test_without_updated_a_changed_record_is_not_emitted_again() -> None:
    poll = make_poll(key="{{ record.id }}", records="{{ response.body.issues }}")
    _, state = run(poll, [issue(1, "a")], PollState())
    events, state = run(poll, [issue(1, "b"), issue(2)], state)
    assert summary(events) == [("2", False)]
    assert state.seen == {"1": "", "2": ""}


def test_adding_updated_later_adopts_versions_without_replaying_records() -> None:
    _, state = run(make_poll(key="{{ record.id }}"), [issue(1, "a")], PollState())
    poll = make_poll(**FIELDS)
    events, state = run(poll, [issue(1, "a")], state)
    assert events == []
    events, _ = run(poll, [issue(1, "b")], state)
    assert summary(events) == [("1", True)]


def test_updated_of_any_json_value_is_compared_by_value() -> None:
    poll = make_poll(key="{{ record.id }}", updated="{{ record.v }}")
    _, state = run(poll, [{"id": 1, "v": {"b": 1, "a": [1, 2]}}], PollState())
    events, state = run(poll, [{"id": 1, "v": {"a": [1, 2], "b": 1}}], state)
    assert events == []
    events, _ = run(poll, [{"id": 1, "v": None}], state)
    assert summary(events) == [("1", True)]


def test_cursor_comes_from_the_last_record() -> None:
    poll = make_poll(**FIELDS)
    _, state = run(poll, [issue(1, "2024-01"), issue(2, "2024-03"), issue(3, "2024-02")],
                   PollState())
    assert state.cursor == "2024-02"


def test_empty_poll_keeps_the_cursor_and_seen_keys() -> None:
    poll = make_poll(**FIELDS)
    _, state = run(poll, [issue(1, "2024-01")], PollState())
    events, after = run(poll, [], state)
    assert events == []
    assert (after.cursor, after.has_cursor, after.seen) == ("2024-01", True, state.seen)


def test_empty_first_poll_sets_no_cursor_and_later_records_are_new() -> None:
    poll = make_poll(**FIELDS)
    _, state = run(poll, [], PollState())
    assert state.initialized and not state.has_cursor
    events, _ = run(poll, [issue(1)], state)
    assert summary(events) == [("1", False)]


def test_cursor_rendering_null_keeps_the_previous_cursor() -> None:
    poll = make_poll(key="{{ record.id }}", cursor="{{ record.updated | default(none) }}")
    _, state = run(poll, [issue(1, "2024-01")], PollState())
    _, state = run(poll, [{"id": 2}], state)
    assert state.cursor == "2024-01"


def test_cursor_is_visible_to_key_templates_only_once_it_exists() -> None:
    poll = make_poll(key="{{ record.id }}-{{ cursor | default(\"none\") }}",
                     cursor="{{ record.updated }}", initial="emit")
    events, state = run(poll, [issue(1, "c1")], PollState())
    assert summary(events) == [("1-none", False)]
    events, _ = run(poll, [issue(1, "c2")], state)
    assert summary(events) == [("1-c1", False)]
    assert cursor_context(PollState()) == {}
    assert cursor_context(state) == {"cursor": "c1"}


def test_select_does_not_change_the_state_it_is_given() -> None:
    poll = make_poll(**FIELDS)
    _, state = run(poll, [issue(1, "a")], PollState())
    before = PollState.from_json(state.to_json())
    run(poll, [issue(1, "b"), issue(2)], state)
    assert state == before


def test_duplicate_keys_in_one_poll_emit_the_last_copy_once_at_its_place() -> None:
    poll = make_poll(**FIELDS)
    _, state = run(poll, [issue(9)], PollState())
    records = [issue(1, "a"), issue(2, "a"), issue(1, "b"), issue(9, "z")]
    events, state = run(poll, records, state)
    assert summary(events) == [("2", False), ("1", False), ("9", True)]
    assert events[1].record == issue(1, "b")
    assert state.seen["1"] == '"b"'


def test_seen_keys_are_bounded_and_evict_the_least_recently_returned() -> None:
    poll = make_poll(**FIELDS)
    _, state = run(poll, [issue(i) for i in range(5)], PollState(), max_seen=5)
    events, state = run(poll, [issue(0), issue(5), issue(6)], state, max_seen=5)
    assert summary(events) == [("5", False), ("6", False)]
    # 1 and 2 were returned least recently; 0 was returned again, so it stays.
    assert list(state.seen) == ["3", "4", "0", "5", "6"]
    events, _ = run(poll, [issue(1)], state, max_seen=5)
    assert summary(events) == [("1", False)]  # forgotten, so new again: the documented limit


def test_seen_bound_never_forgets_records_the_api_still_returns() -> None:
    poll = make_poll(**FIELDS)
    page = [issue(i) for i in range(8)]
    _, state = run(poll, page, PollState(), max_seen=3)
    assert len(state.seen) == 8  # one poll's keys are all kept, whatever max_seen says
    for _ in range(3):
        events, state = run(poll, page, state, max_seen=3)
        assert events == []
    events, state = run(poll, [issue(100)], state, max_seen=3)
    assert summary(events) == [("100", False)]
    assert list(state.seen) == ["6", "7", "100"]


def test_key_render_error_names_the_record_and_the_template() -> None:
    poll = make_poll(**FIELDS)
    with pytest.raises(TemplateError, match=r"^poll key of record 2: .*id"):
        run(poll, [issue(1), issue(2), {"title": "no id"}], PollState())


def test_updated_and_cursor_errors_name_their_template() -> None:
    poll = make_poll(key="{{ record.id }}", updated="{{ record.when }}")
    with pytest.raises(TemplateError, match=r"^poll updated of record 0: "):
        run(poll, [issue(1)], PollState())
    poll = make_poll(key="{{ record.id }}", cursor="{{ record.when }}")
    with pytest.raises(TemplateError, match=r"^poll cursor of record 1: "):
        run(poll, [issue(1), issue(2)], PollState())


@pytest.mark.parametrize("bad", [None, "", "  "])
def test_key_that_is_null_or_empty_is_an_error(bad: Any) -> None:
    poll = make_poll(**FIELDS)
    with pytest.raises(TemplateError, match="poll key of record 1 is (null|empty)"):
        run(poll, [issue(1), {"id": bad, "updated": "x"}], PollState())


def test_keys_of_other_types_become_text() -> None:
    poll = make_poll(key="{{ record.id }}", initial="emit")
    events, _ = run(poll, [{"id": 7}, {"id": "a"}, {"id": [1, "x"]}, {"id": 1.5}], PollState())
    assert [e.key for e in events] == ["7", "a", '[1,"x"]', "1.5"]


def test_trigger_has_record_key_is_update_and_polled_at() -> None:
    event = PollEvent(key="7", is_update=True, record={"id": 7})
    assert trigger_of(event, "2024-05-01T12:00:00Z") == {
        "record": {"id": 7}, "key": "7", "is_update": True, "polled_at": "2024-05-01T12:00:00Z",
    }


def test_state_survives_a_json_round_trip_in_order() -> None:
    poll = make_poll(**FIELDS)
    _, state = run(poll, [issue(3, "c"), issue(1, "a"), issue(2, "b")], PollState(),
                   polled_at="2024-05-01T12:00:00Z")
    again = PollState.from_json(state.to_json())
    assert again == state
    assert list(again.seen) == ["3", "1", "2"]
    assert again.polled_at == "2024-05-01T12:00:00Z"


def test_unreadable_state_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="poll state"):
        PollState.from_json('{"version": 99}')
    with pytest.raises(StoreError, match="poll state"):
        PollState.from_json("not json")


# --- fetch_records against a real server -------------------------------------------------------


@pytest.fixture
async def api() -> AsyncIterator[tuple[str, list[str]]]:
    """Pages of issues: /pages/N links on up to 3, /loop/N links 1→2→3→2, /endless never ends."""
    hits: list[str] = []

    async def pages(request: web.Request) -> web.Response:
        hits.append(request.path_qs)
        kind, number = request.match_info["kind"], int(request.match_info["n"])
        base = f"http://{request.host}/{kind}"
        follow = {"pages": number + 1 if number < 3 else None,
                  "loop": 2 if number == 3 else number + 1, "endless": number + 1}[kind]
        body: dict[str, Any] = {"issues": [issue(number * 10 + i) for i in range(2)]}
        if follow is not None:
            body["next"] = f"{base}/{follow}"
        return web.json_response(body)

    async def odd(request: web.Request) -> web.Response:
        hits.append(request.path_qs)
        what = request.match_info["what"]
        if what == "numbered":  # a page number where a URL belongs
            return web.json_response({"issues": [], "next": 2})
        payloads = {"null": None, "map": {"a": 1, "b": 2}, "text": "oops"}
        return web.json_response({"issues": payloads[what]})

    app = web.Application()
    app.router.add_get("/odd/{what}", odd)
    app.router.add_get("/{kind}/{n}", pages)
    async with serve_app(app) as url:
        yield url, hits


async def fetch(base: str, first: str, poll: Poll, max_pages: int | None = None) -> Any:
    async with aiohttp.ClientSession() as session:

        async def send(url: str | None) -> dict[str, Any]:
            async with session.get(url or base + first) as response:
                return {"status": response.status, "headers": dict(response.headers),
                        "body": await response.json()}

        return await fetch_records(poll, send, base_context=BASE, cursor_context={},
                                   max_pages=max_pages)


PAGED = {**FIELDS, "next_page": "{{ response.body.next }}"}


async def test_pagination_follows_next_page_across_three_pages(api: tuple[str, list[str]]) -> None:
    base, hits = api
    fetched = await fetch(base, "/pages/1", make_poll(**PAGED))
    assert [r["id"] for r in fetched.records] == [10, 11, 20, 21, 30, 31]
    assert hits == ["/pages/1", "/pages/2", "/pages/3"]
    assert fetched.response["body"]["issues"][0]["id"] == 30
    assert not fetched.truncated


async def test_next_page_repeating_a_url_stops_the_poll(api: tuple[str, list[str]]) -> None:
    base, hits = api
    fetched = await fetch(base, "/loop/1", make_poll(**PAGED))
    assert hits == ["/loop/1", "/loop/2", "/loop/3"]
    assert len(fetched.records) == 6 and not fetched.truncated


async def test_max_pages_stops_with_the_records_so_far(api: tuple[str, list[str]]) -> None:
    base, hits = api
    fetched = await fetch(base, "/endless/1", make_poll(**PAGED, max_pages=4))
    assert hits == [f"/endless/{n}" for n in range(1, 5)]
    assert len(fetched.records) == 8 and fetched.truncated
    hits.clear()
    fetched = await fetch(base, "/endless/1", make_poll(**PAGED), max_pages=2)
    assert hits == ["/endless/1", "/endless/2"] and fetched.truncated


async def test_without_next_page_one_request_is_sent(api: tuple[str, list[str]]) -> None:
    base, hits = api
    fetched = await fetch(base, "/pages/1", make_poll(**FIELDS))
    assert hits == ["/pages/1"] and len(fetched.records) == 2


async def test_null_records_are_an_empty_page(api: tuple[str, list[str]]) -> None:
    base, _ = api
    fetched = await fetch(base, "/odd/null", make_poll(**FIELDS))
    assert fetched.records == [] and not fetched.truncated


@pytest.mark.parametrize(
    ("what", "described"),
    [("map", "a mapping with keys: a, b"), ("text", "text 'oops'")],
)
async def test_records_that_are_not_a_list_are_an_error(
    api: tuple[str, list[str]], what: str, described: str
) -> None:
    base, _ = api
    expected = f"poll records of page 1 must be a list, got {described}"
    with pytest.raises(TemplateError, match=expected):
        await fetch(base, f"/odd/{what}", make_poll(**FIELDS))


async def test_fetched_records_flow_into_select(api: tuple[str, list[str]]) -> None:
    base, _ = api
    poll = make_poll(**PAGED, initial="emit")
    fetched = await fetch(base, "/pages/1", poll)
    events, state = select(poll, fetched.records, PollState(), base_context=BASE,
                           response=fetched.response, polled_at="t")
    assert [e.key for e in events] == ["10", "11", "20", "21", "30", "31"]
    assert state.cursor == "2024-05-01"


async def test_next_page_that_is_not_a_url_is_an_error(api: tuple[str, list[str]]) -> None:
    base, hits = api
    expected = "poll next_page of page 1 must be a URL or null, got int 2"
    with pytest.raises(TemplateError, match=expected):
        await fetch(base, "/odd/numbered", make_poll(**PAGED))
    assert hits == ["/odd/numbered"]
