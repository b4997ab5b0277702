"""One poll against a real sink: pages, cursor, selection, and failures that name the request."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runner.engine.polling import poll_once
from runner.errors import StepError
from runner.triggers.poll import PollState
from tests.support.servers import Reply


def poll_docs(base_url: str, initial: str = "skip") -> str:
    return f"""
kind: connection
name: api
base_url: {base_url}/api
private_network: true
auth: {{type: query, params: {{api_key: "{{{{ secrets.KEY }}}}"}}}}
params: {{fields: all}}
---
kind: recipe
name: p
trigger:
  poll:
    connection: api
    every: 5m
    request: {{url: /issues, params: {{since: "{{{{ cursor | default('0') }}}}"}}}}
    records: "{{{{ response.body['items'] }}}}"
    key: "{{{{ record.id }}}}"
    updated: "{{{{ record.updated }}}}"
    cursor: "{{{{ record.updated }}}}"
    next_page: "{{{{ response.body.next }}}}"
    initial: {initial}
steps:
  - id: s
    request: {{connection: api, url: "/issue/{{{{ trigger.record.id }}}}"}}
"""


SECRETS = {"KEY": "poll-key-123"}
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def pages(sink) -> None:
    sink.recorder.script("/api/issues",
                         Reply(json={"items": [{"id": 1, "updated": "a"},
                                               {"id": 2, "updated": "b"}],
                                     "next": "?page=2"}),
                         Reply(json={"items": [{"id": 3, "updated": "c"}], "next": None}))


async def test_poll_once_follows_next_page_links_and_emits_every_new_record(
    sink, make_project, make_runtime
):
    pages(sink)
    project = make_project(poll_docs(sink.url, initial="emit"))
    runtime = make_runtime(project, SECRETS)
    outcome = await poll_once(runtime, project.recipes["p"], PollState(), now=NOW)
    assert (outcome.pages, outcome.records, outcome.truncated) == (2, 3, False)
    assert [e["key"] for e in outcome.events] == ["1", "2", "3"]
    assert outcome.events[0] == {"record": {"id": 1, "updated": "a"}, "key": "1",
                                 "is_update": False, "polled_at": NOW.isoformat()}
    assert (outcome.state.cursor, outcome.state.has_cursor) == ("c", True)
    first, second = sink.recorder.requests
    assert list(first.query.items()) == [("fields", "all"), ("since", "0"),
                                         ("api_key", "poll-key-123")]
    # The link replaces the request's own params; the connection's params and auth stay.
    assert second.path == "/api/issues"
    assert list(second.query.items()) == [("page", "2"), ("fields", "all"),
                                          ("api_key", "poll-key-123")]
    assert "Idempotency-Key" not in first.headers


async def test_the_next_poll_sends_the_cursor_and_emits_only_new_or_updated_records(
    sink, make_project, make_runtime
):
    pages(sink)
    project = make_project(poll_docs(sink.url))
    runtime = make_runtime(project, SECRETS)
    recipe = project.recipes["p"]
    first = await poll_once(runtime, recipe, PollState(), now=NOW)
    assert first.events == [] and first.state.initialized  # initial: skip remembers only
    sink.recorder.script("/api/issues", Reply(json={"items": [{"id": 2, "updated": "b2"},
                                                              {"id": 4, "updated": "d"}]}))
    second = await poll_once(runtime, recipe, first.state, now=NOW)
    assert [(e["key"], e["is_update"]) for e in second.events] == [("2", True), ("4", False)]
    assert sink.recorder.requests[-1].query["since"] == "c"
    assert second.state.cursor == "d"


async def test_a_failed_poll_names_recipe_method_url_status_and_body_redacted(
    sink, make_project, make_runtime
):
    sink.recorder.script("/api/issues", Reply(503, body="maintenance until noon"))
    project = make_project(poll_docs(sink.url))
    runtime = make_runtime(project, SECRETS)
    with pytest.raises(StepError) as caught:
        await poll_once(runtime, project.recipes["p"], PollState())
    assert str(caught.value) == (
        f"poll of recipe p: GET {sink.url}/api/issues?fields=all&since=0&api_key=*** answered "
        "503 Service Unavailable (expected 2xx); body starts with: maintenance until noon")


async def test_a_poll_whose_records_are_not_a_list_says_so(sink, make_project, make_runtime):
    sink.recorder.script("/api/issues", Reply(json={"items": {"id": 1}}))
    project = make_project(poll_docs(sink.url))
    runtime = make_runtime(project, SECRETS)
    with pytest.raises(Exception, match="^poll of recipe p: poll records of page 1 must be a list"):
        await poll_once(runtime, project.recipes["p"], PollState())


async def test_a_next_page_on_another_origin_fails_the_poll(sink, make_project, make_runtime):
    sink.recorder.script("/api/issues", Reply(json={"items": [], "next": "http://evil.test/p2"}))
    project = make_project(poll_docs(sink.url))
    runtime = make_runtime(project, SECRETS)
    with pytest.raises(StepError, match="next_page leads to another origin"):
        await poll_once(runtime, project.recipes["p"], PollState())
    assert len(sink.recorder.requests) == 1


async def test_a_next_page_link_echoing_the_auth_parameter_sends_it_once(
    sink, make_project, make_runtime
):
    sink.recorder.script("/api/issues",
                         Reply(json={"items": [], "next": "?page=2&api_key=poll-key-123&n=1"}),
                         Reply(json={"items": [], "next": None}))
    project = make_project(poll_docs(sink.url))
    await poll_once(make_runtime(project, SECRETS), project.recipes["p"], PollState())
    second = sink.recorder.requests[1]
    assert list(second.query.items()) == [("page", "2"), ("n", "1"), ("fields", "all"),
                                          ("api_key", "poll-key-123")]


@pytest.mark.parametrize("link", ["mailto:ops@example.com", "file:///etc/passwd", "ftp://x/y"])
async def test_a_next_page_that_is_not_http_fails_the_poll_clearly(
    link, sink, make_project, make_runtime
):
    sink.recorder.script("/api/issues", Reply(json={"items": [], "next": link}))
    project = make_project(poll_docs(sink.url))
    with pytest.raises(StepError) as caught:
        await poll_once(make_runtime(project, SECRETS), project.recipes["p"], PollState())
    assert str(caught.value) == f"poll of recipe p: next_page {link!r} is not an http or https URL"


def five_pages(sink) -> None:
    """Five pages of one record each, linked with relative links, answered again at each poll."""
    for n in range(1, 6):
        sink.recorder.script(f"/api/p{n}", *[Reply(json={
            "items": [{"id": n, "updated": "u"}],
            "next": f"p{n + 1}" if n < 5 else None,
        })] * 3)


def capped(base_url: str, initial: str) -> str:
    return (poll_docs(base_url, initial).replace("url: /issues", "url: /p1")
            .replace("initial:", "max_pages: 2\n    initial:"))


@pytest.mark.parametrize("initial", ["emit", "skip"])
async def test_a_poll_cut_off_at_max_pages_goes_on_from_there_at_the_next_poll(
    initial, sink, make_project, make_runtime
):
    five_pages(sink)
    project = make_project(capped(sink.url, initial))
    runtime, recipe = make_runtime(project, SECRETS), project.recipes["p"]
    state, emitted = PollState(), []
    for _ in range(3):
        outcome = await poll_once(runtime, recipe, state, now=NOW)
        emitted += [e["key"] for e in outcome.events]
        state = outcome.state
    assert [r.path for r in sink.recorder.requests] == [f"/api/p{n}" for n in range(1, 6)]
    assert state.resume is None and state.initialized
    assert emitted == (["1", "2", "3", "4", "5"] if initial == "emit" else [])
    assert PollState.from_json(state.to_json()) == state
    # The next poll starts at the first page again, and finds nothing new there.
    outcome = await poll_once(runtime, recipe, state, now=NOW)
    assert sink.recorder.requests[-1].path == "/api/p2" and outcome.events == []
