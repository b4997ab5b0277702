"""`runner sample` as a real process against a real local API: the file it writes, what it
keeps between runs, and that no secret ever reaches it."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web

from runner.samples.files import read_sample, sample_text
from tests.commands.test_run_command import runner, write
from tests.support.servers import serve_app

SECRET = "tok-4f1b9c-very-secret"

CONNECTION = """kind: connection
name: venues
base_url: {base}
private_network: true
auth: {{type: header, headers: {{Authorization: "Bearer {{{{ secrets.VENUES_TOKEN }}}}"}}}}
"""

RECIPE = """kind: recipe
name: new-lead
trigger: {webhook: {}}
steps:
  - id: create_venue
    request:
      connection: venues
      method: POST
      url: /venues/
      json: {venue: {name: "{{ trigger.body.venue }}", address: {country: "{{ trigger.body.country }}"}}}
  - id: notify
    if: "{{ trigger.body.notify | default(false) }}"
    request: {connection: venues, method: POST, url: /notes/, json: {venue: "{{ steps.create_venue.body.id }}"}}
"""


def venues_app(calls: list[str]) -> web.Application:
    """A stand-in for Eventbrite's venue API: 2-letter countries only, echoes the token back
    in a field (a careless API) so the test can see it is redacted."""

    async def create(request: web.Request) -> web.Response:
        calls.append(request.path)
        venue = (await request.json())["venue"]
        country = venue["address"]["country"]
        if len(country) != 2:
            return web.json_response({"error": "ARGUMENTS_ERROR",
                                      "error_description": "country must be 2 letters"}, status=400)
        return web.json_response(
            {"id": "301", "name": venue["name"], "address": {"country": country},
             "echo": request.headers["Authorization"], "sections": list(range(50))},
            headers={"Set-Cookie": "session=abc123"})

    async def note(request: web.Request) -> web.Response:
        calls.append(request.path)
        return web.json_response({"noted": True}, status=201)

    app = web.Application()
    app.router.add_post("/venues/", create)
    app.router.add_post("/notes/", note)
    return app


def project(tmp_path: Path, base: str) -> Path:
    write(tmp_path, "venues.yaml", CONNECTION.format(base=base))
    return write(tmp_path, "new-lead.yaml", RECIPE)


def event(tmp_path: Path, **body: object) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps({"body": body, "headers": {"Authorization": "Basic c2VjcmV0"}}))
    return str(path)


async def test_sample_writes_the_trigger_and_each_step_redacted_and_sorted(tmp_path):
    calls: list[str] = []
    async with serve_app(venues_app(calls)) as base:
        project(tmp_path, base)
        code, out, err = await runner(
            tmp_path, "sample", "new-lead", ".", "--event", event(tmp_path, venue="Hall", country="GB"),
            env={"VENUES_TOKEN": SECRET})
    assert code == 0, err
    path = tmp_path / "samples" / "new-lead.json"
    text = path.read_text(encoding="utf-8")
    assert SECRET not in text and "c2VjcmV0" not in text and "abc123" not in text
    data = json.loads(text)
    venue = data["steps"]["create_venue"]
    assert venue["status"] == 200
    assert venue["body"]["id"] == "301" and "***" in venue["body"]["echo"]
    assert data["trigger"]["body"] == {"country": "GB", "venue": "Hall"}
    assert "notify" not in data["steps"]  # skipped: nothing recorded
    assert text == sample_text(read_sample(path))  # sorted keys, two-space indents
    assert "wrote" in out and "step notify not recorded: it was skipped" in out
    assert SECRET not in out + err


async def test_rerun_replaces_what_ran_and_keeps_what_did_not(tmp_path):
    calls: list[str] = []
    async with serve_app(venues_app(calls)) as base:
        project(tmp_path, base)
        env = {"VENUES_TOKEN": SECRET}
        first = event(tmp_path, venue="Hall", country="GB", notify=True)
        assert (await runner(tmp_path, "sample", "new-lead", ".", "--event", first, env=env))[0] == 0
        sample = json.loads((tmp_path / "samples" / "new-lead.json").read_text())
        assert sample["steps"]["notify"]["body"] == {"noted": True}
        # A delivery that skips notify and fails create_venue: the old recordings stay.
        bad = event(tmp_path, venue="Hut", country="USA")
        code, out, err = await runner(tmp_path, "sample", "new-lead", ".", "--event", bad, env=env)
    assert code == 1, out + err
    after = json.loads((tmp_path / "samples" / "new-lead.json").read_text())
    assert after["trigger"]["body"]["country"] == "USA"  # the trigger ran: replaced
    assert after["steps"]["create_venue"]["body"]["name"] == "Hall"  # failed: kept
    assert after["steps"]["notify"] == sample["steps"]["notify"]  # did not run: kept
    assert "step create_venue not recorded: it failed (the earlier recording is kept)" in out


async def test_body_over_the_limit_is_cut_as_json_with_a_marker(tmp_path):
    calls: list[str] = []
    async with serve_app(venues_app(calls)) as base:
        project(tmp_path, base)
        code, _, err = await runner(
            tmp_path, "sample", "new-lead", ".", "--event", event(tmp_path, venue="Hall", country="GB"),
            env={"VENUES_TOKEN": SECRET, "RUNNER_BODY_LIMIT": "120"})
    assert code == 0, err
    venue = json.loads((tmp_path / "samples" / "new-lead.json").read_text())["steps"]["create_venue"]
    assert venue["body_truncated"] is True
    assert venue["body"]["sections"] == [0, 1, 2] and venue["body"]["id"] == "301"


async def test_a_webhook_recipe_without_an_event_reuses_the_recorded_trigger(tmp_path):
    calls: list[str] = []
    async with serve_app(venues_app(calls)) as base:
        project(tmp_path, base)
        env = {"VENUES_TOKEN": SECRET}
        code, _, err = await runner(tmp_path, "sample", "new-lead", ".", env=env)
        assert code == 2 and "give --event FILE" in err and calls == []
        await runner(tmp_path, "sample", "new-lead", ".", "--event",
                     event(tmp_path, venue="Hall", country="GB"), env=env)
        code, _, err = await runner(tmp_path, "sample", "new-lead", ".", env=env)
    assert code == 0, err
    assert calls == ["/venues/", "/venues/"]


async def test_job_option_samples_a_delivery_from_the_history(tmp_path):
    calls: list[str] = []
    store = f"sqlite:///{tmp_path / 'jobs.db'}"
    async with serve_app(venues_app(calls)) as base:
        project(tmp_path, base)
        env = {"VENUES_TOKEN": SECRET}
        code, out, err = await runner(tmp_path, "run", "new-lead", ".", "--event",
                                      event(tmp_path, venue="Pier", country="IE"),
                                      "--format", "json", "--store", store, env=env)
        # `runner run` does not keep jobs; put one in the history the way the daemon does.
        job_id = await _stored_job(store, json.loads(out)["event"])
        code, _, err = await runner(tmp_path, "sample", "new-lead", ".", "--job", job_id,
                                    "--store", store, env=env)
        assert code == 0, err
        missing, _, err_missing = await runner(tmp_path, "sample", "new-lead", ".", "--job", "nope",
                                               "--store", store, env=env)
    assert json.loads((tmp_path / "samples" / "new-lead.json").read_text())["trigger"]["body"] == {
        "country": "IE", "venue": "Pier"}
    assert missing == 1 and "no job nope" in err_missing


async def _stored_job(store_url: str, event_data: dict) -> str:
    from runner.engine.job import new_job
    from runner.store import open_store

    store = open_store(store_url)
    await store.open()
    try:
        job = new_job("new-lead", event_data)
        await store.enqueue(job)
        return job.id
    finally:
        await store.close()


async def test_a_broken_sample_is_reported_where_it_breaks_and_left_alone(tmp_path):
    project(tmp_path, "http://127.0.0.1:9")
    broken = tmp_path / "samples" / "new-lead.json"
    broken.parent.mkdir()
    broken.write_text('{"trigger": {"body": 1,}}\n')
    code, _, err = await runner(tmp_path, "sample", "new-lead", ".", "--event",
                                event(tmp_path, venue="x", country="GB"), env={"VENUES_TOKEN": "x"})
    assert code == 1
    assert "samples/new-lead.json:1:24: the sample is not valid JSON" in err
    assert broken.read_text() == '{"trigger": {"body": 1,}}\n'


POLL = """kind: recipe
name: sync
trigger:
  poll:
    connection: venues
    every: 5m
    request: {url: /items/}
    records: "{{ response.body.items }}"
    key: "{{ record.id }}"
steps:
  - id: forward
    request: {connection: venues, method: POST, url: /notes/, json: {id: "{{ trigger.record.id }}"}}
"""


async def test_a_poll_recipe_polls_once_and_samples_the_first_record(tmp_path):
    calls: list[str] = []
    items = [{"id": "a", "title": "first"}, {"id": "b", "title": "second"}]
    app = venues_app(calls)

    async def listing(request: web.Request) -> web.Response:
        calls.append(request.path)
        return web.json_response({"items": items if request.query.get("empty") is None else []})

    app.router.add_get("/items/", listing)
    async with serve_app(app) as base:
        write(tmp_path, "venues.yaml", CONNECTION.format(base=base))
        write(tmp_path, "sync.yaml", POLL)
        code, out, err = await runner(tmp_path, "sample", "sync", ".", env={"VENUES_TOKEN": SECRET})
        assert code == 0, err
        sample = json.loads((tmp_path / "samples" / "sync.json").read_text())
        assert sample["trigger"]["record"] == items[0] and sample["trigger"]["key"] == "a"
        assert calls == ["/items/", "/notes/"]  # one job: the first record only
        write(tmp_path, "sync.yaml", POLL.replace("url: /items/", "url: /items/?empty=1"))
        code, _, err = await runner(tmp_path, "sample", "sync", ".", env={"VENUES_TOKEN": SECRET})
    assert code == 1 and "found no records" in err


async def test_validate_and_datapills_send_nothing(tmp_path):
    calls: list[str] = []
    async with serve_app(venues_app(calls)) as base:
        project(tmp_path, base)
        env = {"VENUES_TOKEN": SECRET}
        await runner(tmp_path, "sample", "new-lead", ".", "--event",
                     event(tmp_path, venue="Hall", country="GB"), env=env)
        sent = len(calls)
        assert (await runner(tmp_path, "validate", ".", "--strict", env=env))[0] == 0
        assert (await runner(tmp_path, "datapills", "new-lead", ".", env=env))[0] == 0
    assert len(calls) == sent == 1
