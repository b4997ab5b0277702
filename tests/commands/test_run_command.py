"""`runner run` and `runner connection test` as real processes against real servers."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.support.servers import Reply

SECRET = "very-secret-value-42"


async def runner(cwd: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Runs `python -m runner ARGS` in `cwd`; returns exit code, stdout and stderr."""
    environ = {**os.environ, "RUNNER_SECRETS_DIR": str(cwd / "no-secrets"), **(env or {})}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runner", *args, cwd=cwd, env=environ,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=30)
    return process.returncode or 0, out.decode(), err.decode()


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def connection(base_url: str, extra: str = "") -> str:
    return f"""kind: connection
name: api
base_url: {base_url}
private_network: true
auth: {{type: basic, username: ann, password: "{{{{ secrets.API_PASSWORD }}}}"}}
test: {{method: GET, url: /status/200}}
{extra}
"""


RECIPE = """
---
kind: recipe
name: echo
trigger: {webhook: {}}
steps:
  - id: send
    request:
      connection: api
      method: POST
      url: /anything
      json: {token: "{{ secrets.API_PASSWORD }}", name: "{{ trigger.body.name | default('anon') }}"}
  - id: check
    request: {connection: api, url: "/basic-auth/ann/{{ secrets.API_PASSWORD }}"}
"""


async def test_run_prints_every_step_and_never_a_secret(httpbin_url, tmp_path):
    recipe = write(tmp_path, "echo.yaml", connection(httpbin_url) + RECIPE)
    event = write(tmp_path, "event.json", json.dumps({"body": {"name": "{{ 7*7 }}"}}))
    env = {"API_PASSWORD": SECRET}
    code, out, err = await runner(tmp_path, "run", str(recipe), "--event", str(event), env=env)
    assert code == 0, out + err
    assert "── step send: succeeded" in out and "── step check: succeeded" in out
    assert '"name": "{{ 7*7 }}"' in out  # the event's text arrives as it is
    assert "Authorization: ***" in out and "✓ job succeeded" in out
    code, js, err2 = await runner(tmp_path, "run", "echo", "echo.yaml", "--event", str(event),
                                  "--format", "json", env=env)
    assert code == 0, js + err2
    job = json.loads(js)
    assert job["status"] == "succeeded" and [s["id"] for s in job["steps"]] == ["send", "check"]
    for text in (out, err, js, err2):
        assert SECRET not in text


async def test_a_failed_job_exits_1_with_the_error(sink, tmp_path):
    sink.recorder.script("/anything", Reply(500, body="upstream exploded"))
    write(tmp_path, "docs.yaml", connection(sink.url) + RECIPE)
    code, out, _ = await runner(tmp_path, "run", "echo", "docs.yaml",
                                env={"API_PASSWORD": SECRET})
    assert code == 1
    assert (f"✗ job failed: step send: POST {sink.url}/anything answered 500 Internal Server "
            "Error (expected 2xx); body starts with: upstream exploded") in out
    assert len(sink.recorder.requests) == 1


async def test_dry_run_renders_every_request_and_sends_none(sink, tmp_path):
    write(tmp_path, "docs.yaml", connection(sink.url) + RECIPE)
    code, out, err = await runner(tmp_path, "run", "echo", "docs.yaml", "--dry-run",
                                  env={"API_PASSWORD": SECRET})
    assert code == 0, out + err
    assert "(dry run: nothing is sent)" in out
    assert f"→ POST {sink.url}/anything" in out and f"→ GET {sink.url}/basic-auth/ann/***" in out
    assert sink.recorder.requests == []
    assert SECRET not in out + err


async def test_a_bad_event_file_is_reported_at_its_line_and_column(tmp_path):
    write(tmp_path, "docs.yaml", connection("http://127.0.0.1:9") + RECIPE)
    write(tmp_path, "event.json", '{\n  "body": {"a": 1,}\n}\n')
    code, out, err = await runner(tmp_path, "run", "echo", "docs.yaml", "--event", "event.json")
    assert code == 1
    assert err.startswith("event.json:2:19: the event is not valid JSON")


async def test_an_unknown_recipe_name_lists_the_known_ones(tmp_path):
    write(tmp_path, "docs.yaml", connection("http://127.0.0.1:9") + RECIPE)
    code, _, err = await runner(tmp_path, "run", "nope", "docs.yaml")
    assert code == 1
    assert "no recipe named 'nope' (recipes: echo)" in err


async def test_a_missing_secret_is_an_environment_error(tmp_path):
    write(tmp_path, "docs.yaml", connection("http://127.0.0.1:9") + RECIPE)
    code, _, err = await runner(tmp_path, "run", "echo", "docs.yaml")
    assert code == 2
    assert "secret 'API_PASSWORD' is not provided" in err


async def test_a_secret_a_step_reads_is_checked_before_any_request(sink, tmp_path):
    uses = RECIPE.replace("/anything", "/anything/{{ secrets.STEP_ONLY_KEY }}")
    write(tmp_path, "docs.yaml", connection(sink.url) + uses)
    code, out, err = await runner(tmp_path, "run", "echo", "docs.yaml", env={"API_PASSWORD": SECRET})
    assert code == 2, out
    assert err.startswith("docs.yaml:18:12: ") and "secret 'STEP_ONLY_KEY' is not provided" in err
    assert sink.recorder.requests == []


POLL = """
---
kind: recipe
name: issues
trigger:
  poll:
    connection: api
    every: 5m
    request: {url: /issues}
    records: "{{ response.body }}"
    key: "{{ record.id }}"
steps:
  - id: handle
    request: {connection: api, method: POST, url: "/handled/{{ trigger.record.id }}", json: {}}
"""


async def test_a_poll_recipe_without_event_polls_once_and_runs_a_job_per_record(sink, tmp_path):
    sink.recorder.script("/issues", Reply(json=[{"id": 7}, {"id": 8}]))
    write(tmp_path, "docs.yaml", connection(sink.url) + POLL)
    code, out, err = await runner(tmp_path, "run", "issues", "docs.yaml",
                                  env={"API_PASSWORD": SECRET})
    assert code == 0, out + err
    assert "polled 2 records on 1 page(s)" in out
    assert out.count("✓ job succeeded") == 2
    assert [r.path for r in sink.recorder.requests] == ["/issues", "/handled/7", "/handled/8"]


async def test_a_poll_recipe_runs_the_given_record_in_json_format(sink, tmp_path):
    write(tmp_path, "docs.yaml", connection(sink.url) + POLL)
    write(tmp_path, "event.json", '{"record": {"id": 3}}')
    code, out, err = await runner(tmp_path, "run", "issues", "docs.yaml", "--event",
                                  "event.json", "--format", "json", env={"API_PASSWORD": SECRET})
    assert code == 0, out + err
    job = json.loads(out)
    assert job["event"]["key"] == "3" and job["status"] == "succeeded"  # text, as polls emit it
    assert [r.path for r in sink.recorder.requests] == ["/handled/3"]


async def test_the_given_records_key_is_what_the_recipes_key_template_gives(sink, tmp_path):
    keyed = POLL.replace('key: "{{ record.id }}"', 'key: "{{ record.sku }}"').replace(
        '"/handled/{{ trigger.record.id }}"', '"/handled/{{ trigger.key }}"')
    write(tmp_path, "docs.yaml", connection(sink.url) + keyed)
    write(tmp_path, "event.json", '{"record": {"sku": "ABC-1", "id": 77}}')
    code, out, err = await runner(tmp_path, "run", "issues", "docs.yaml", "--event",
                                  "event.json", "--format", "json", env={"API_PASSWORD": SECRET})
    assert code == 0, out + err
    assert json.loads(out)["event"]["key"] == "ABC-1"
    assert [r.path for r in sink.recorder.requests] == ["/handled/ABC-1"]
    write(tmp_path, "event.json", '{"record": {"id": 77}}')  # the recipe's key cannot be made
    code, out, err = await runner(tmp_path, "run", "issues", "docs.yaml", "--event", "event.json",
                                  env={"API_PASSWORD": SECRET})
    assert code == 1
    assert "poll key of the event's record: record.sku is undefined" in err


async def test_connection_test_reports_success_and_failure(httpbin_url, tmp_path):
    write(tmp_path, "ok.yaml", connection(httpbin_url))
    code, out, err = await runner(tmp_path, "connection", "test", "api", "ok.yaml",
                                  env={"API_PASSWORD": SECRET})
    assert code == 0, out + err
    assert "✓ connection api works: GET answered 200 OK" in out
    bad = connection(httpbin_url).replace("/status/200", "/status/403")
    write(tmp_path, "bad.yaml", bad)
    code, out, err = await runner(tmp_path, "connection", "test", "api", "bad.yaml",
                                  env={"API_PASSWORD": SECRET})
    assert code == 1
    assert (f"✗ connection api does not work: step test: GET {httpbin_url}/status/403 answered "
            "403 FORBIDDEN (expected 2xx)") in out
    assert SECRET not in out + err


def test_a_dry_run_of_a_poll_recipe_shows_the_poll_request_and_sends_nothing(
    tmp_path, capsys, monkeypatch
):
    from runner.cli import main

    monkeypatch.setenv("API_PASSWORD", SECRET)
    write(tmp_path, "docs.yaml", connection("http://127.0.0.1:9") + POLL)
    code = main(["run", "issues", str(tmp_path / "docs.yaml"), "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert "poll request of recipe issues (dry run: not sent" in out
    assert "→ GET http://127.0.0.1:9/issues" in out and "Authorization: ***" in out
    assert SECRET not in out


def test_a_failed_poll_exits_1_naming_the_request(tmp_path, capsys, monkeypatch):
    from runner.cli import main

    monkeypatch.setenv("API_PASSWORD", SECRET)
    port = 9  # discard: nothing listens there on 127.0.0.1
    write(tmp_path, "docs.yaml", connection(f"http://127.0.0.1:{port}") + POLL)
    code = main(["run", "issues", str(tmp_path / "docs.yaml"), "--format", "json"])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out == ""
    assert captured.err.startswith(
        f"runner: poll of recipe issues: GET http://127.0.0.1:{port}/issues failed: "
        "connection failed: Connection refused")


async def test_a_base_url_that_renders_to_no_url_stops_before_any_request(tmp_path: Path) -> None:
    write(tmp_path, "c.yaml", connection('"{{ secrets.API_URL }}"') + RECIPE)
    code, out, err = await runner(
        tmp_path, "run", "echo", "c.yaml",
        env={"API_URL": "internal-host/v1", "API_PASSWORD": SECRET},
    )
    assert code == 1
    assert "connection api: base_url renders to something that is not an absolute http or " \
           "https URL" in err
    assert "internal-host" not in err + out  # a rendered value may come from a secret


async def test_a_dry_run_needs_neither_the_secrets_nor_the_tls_files(tmp_path):
    write(tmp_path, "docs.yaml", connection("https://api.example.com", "tls: {ca_bundle: ca.pem}")
          + RECIPE)
    code, out, err = await runner(tmp_path, "run", "echo", "docs.yaml", "--dry-run")
    assert (code, err) == (0, ""), out + err
    assert "Authorization: ***" in out and '"token": "***"' in out
    assert "✓ job succeeded" in out
