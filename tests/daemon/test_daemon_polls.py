"""Poll triggers in a real `runner serve`: pages, updates, a restart, `initial: skip` vs `emit`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web

from tests.daemon.conftest import DaemonProcess, Sink, ThreadedApp, wait_for, write

PAGE_SIZE = 2
DOCUMENTS = """\
kind: connection
name: api
base_url: "@API@"
private_network: true
---
kind: connection
name: sink
base_url: "@SINK@"
private_network: true
---
kind: recipe
name: paged
trigger:
  poll:
    connection: api
    every: 200ms
    request: {method: GET, url: /paged}
    records: "{{ response.body.items }}"
    key: "{{ record.id }}"
    updated: "{{ record.updated }}"
    next_page: "{{ response.body.next }}"
    initial: emit
steps:
  - id: forward
    request:
      connection: sink
      method: POST
      url: /paged
      json: {id: "{{ trigger.record.id }}", updated: "{{ trigger.record.updated }}",
             is_update: "{{ trigger.is_update }}"}
---
kind: recipe
name: skipping
trigger:
  poll:
    connection: api
    every: 200ms
    request: {method: GET, url: /skipping}
    records: "{{ response.body.items }}"
    key: "{{ record.id }}"
    next_page: "{{ response.body.next }}"
steps:
  - id: forward
    request: {connection: sink, method: POST, url: /skipping, json: {id: "{{ trigger.record.id }}"}}
---
kind: recipe
name: secretive
trigger:
  poll:
    connection: api
    every: 200ms
    request: {method: GET, url: /secretive, params: {key: "{{ secrets.POLL_API_KEY }}"}}
    records: "{{ response.body.items }}"
    key: "{{ record.id }}"
    initial: emit
steps:
  - id: forward
    request: {connection: sink, method: POST, url: /secretive, json: {id: "{{ trigger.record.id }}"}}
"""
API_KEY = "poll-api-key-93b1e7"


class ItemsApi:
    """`GET /<list>?page=N`: a list's records, PAGE_SIZE a page, linking to the next page."""

    def __init__(self) -> None:
        self.lists: dict[str, list[dict[str, Any]]] = {
            "paged": [{"id": n, "updated": 1} for n in range(1, 7)],  # three pages
            "skipping": [{"id": "a"}, {"id": "b"}],
            "secretive": [{"id": "s1", "note": f"the key is {API_KEY}"}],
        }
        self.polls: Counter[str] = Counter()  # first-page requests: one per poll
        self.server = ThreadedApp(self._app())

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{name}", self._page)
        return app

    async def _page(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        page = int(request.query.get("page", "1"))
        records = self.lists[name]
        chunk = records[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        more = page * PAGE_SIZE < len(records)
        if page == 1:
            self.polls[name] += 1
        return web.json_response(
            {"items": chunk, "next": f"/{name}?page={page + 1}" if more else None}
        )


class World:
    def __init__(self, api: ItemsApi, sink: Sink, daemon: DaemonProcess) -> None:
        self.api, self.sink, self.daemon = api, sink, daemon

    def forwarded(self, name: str) -> list[dict[str, Any]]:
        return [r.json() for r in self.sink.for_path(f"/{name}")]

    def settle(self, name: str, count: int) -> list[dict[str, Any]]:
        """Waits for `count` jobs' requests, then three more polls: no more may arrive."""
        wait_for(lambda: len(self.forwarded(name)) >= count, 10, f"{count} records of {name}")
        polls = self.api.polls[name]
        wait_for(lambda: self.api.polls[name] >= polls + 3, 10, f"three more polls of {name}")
        wait_for(lambda: not self.daemon.jobs("--status", "queued"), 10, "an empty queue")
        forwarded = self.forwarded(name)
        assert len(forwarded) == count, forwarded
        return forwarded


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("polls")
    api, sink = ItemsApi(), Sink()
    documents = write(workdir / "polls.yaml", DOCUMENTS, API=api.server.url, SINK=sink.url)
    daemon = DaemonProcess(workdir, [documents], env={"POLL_API_KEY": API_KEY})
    try:
        daemon.start()
        yield World(api, sink, daemon)
    finally:
        daemon.kill()
        sink.close()
        api.server.close()


def test_poll_follows_pages_emits_each_record_once_and_then_its_update(world: World) -> None:
    emitted = world.settle("paged", 6)
    assert [r["id"] for r in emitted] == [1, 2, 3, 4, 5, 6]  # concurrency 1: in trigger order
    assert not any(r["is_update"] for r in emitted)

    world.api.lists["paged"][1] = {"id": 2, "updated": 2}
    update = world.settle("paged", 7)[-1]
    assert update == {"id": 2, "updated": 2, "is_update": True}


def test_restart_reemits_nothing_and_emits_what_is_new(world: World) -> None:
    before = len(world.forwarded("paged"))
    assert world.daemon.stop() == 0
    world.daemon.start()
    world.settle("paged", before)  # polls after the restart found nothing new
    world.api.lists["paged"].append({"id": 7, "updated": 1})
    assert world.settle("paged", before + 1)[-1] == {"id": 7, "updated": 1, "is_update": False}
    polled = [e for e in world.daemon.log_entries() if e["message"] == "polled"]
    assert any(e["recipe"] == "paged" and e["pages"] == 4 for e in polled)  # 7 records: 4 pages


def test_initial_skip_remembers_what_exists_and_emits_only_later_records(world: World) -> None:
    world.settle("skipping", 0)
    world.api.lists["skipping"].append({"id": "c"})
    assert world.settle("skipping", 1) == [{"id": "c"}]


def test_a_secret_inside_a_polled_record_is_stored_as_stars(world: World) -> None:
    world.settle("secretive", 1)
    [job] = world.daemon.jobs("--recipe", "secretive")
    shown = world.daemon.cli("jobs", "show", job["id"], "--format", "json").stdout
    assert API_KEY not in shown
    assert world.daemon.job(job["id"])["event"]["record"] == {"id": "s1", "note": "the key is ***"}
