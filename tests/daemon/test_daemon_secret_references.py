"""`runner serve` with optional secrets, container-style secret names and Set-Cookie responses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.daemon.conftest import DaemonProcess, Sink, http, wait_for, write
from tests.support.servers import Reply

Daemons = Callable[..., DaemonProcess]
TOKEN = "api-token-5e1b2c"
SESSION = "sess-daemon-77d0a1"
DB_PASSWORD = "db-pass-c41e09"

DOCS = """\
kind: connection
name: sink
base_url: "@SINK@"
private_network: true
headers: {X-Db: "{{ secrets['db-password'] }}"}
---
kind: recipe
name: login
trigger: {webhook: {path: login}}
steps:
  - id: login
    request: {connection: sink, method: POST, url: /login, json: {}}
  - id: use
    request:
      connection: sink
      url: /me
      headers:
        Cookie: "{{ steps.login.headers['Set-Cookie'] }}"
        X-Opt: "{{ secrets.OPTIONAL_KEY | default('none') }}"
        X-Defined: "{{ secrets.OPTIONAL_KEY is defined }}"
        X-In: "{{ secrets.OTHER_KEY if 'OTHER_KEY' in secrets else 'none' }}"
"""


def test_optional_secrets_file_names_and_set_cookie(
    tmp_path: Path, daemons: Daemons, sink: Sink
) -> None:
    sink.script("/login", Reply(json={"ok": True}, headers={"Set-Cookie": f"s={SESSION}"}))
    path = write(tmp_path / "docs.yaml", DOCS, SINK=sink.url)
    daemon = daemons([path], env={"RUNNER_API_TOKEN": TOKEN})
    (daemon.workdir / "secrets").mkdir()
    (daemon.workdir / "secrets" / "db-password").write_text(DB_PASSWORD + "\n")
    daemon.start()
    status, body = http("POST", f"{daemon.url}/webhooks/login", b"{}",
                        {"Content-Type": "application/json"})
    assert status == 202, body
    job_id = json.loads(body)["job_id"]
    wait_for(lambda: sink.for_path("/me"), 10, "the second step's request")
    sent = sink.for_path("/me")[0].headers
    assert (sent["Cookie"], sent["X-Db"]) == (f"s={SESSION}", DB_PASSWORD)
    assert (sent["X-Opt"], sent["X-Defined"], sent["X-In"]) == ("none", "false", "none")

    def finished() -> dict[str, object] | None:
        code, data = http("GET", f"{daemon.url}/api/jobs/{job_id}",
                          headers={"Authorization": f"Bearer {TOKEN}"})
        job = json.loads(data) if code == 200 else None
        return job if job and job["status"] == "succeeded" else None

    from_api = wait_for(finished, 10, "the job to succeed")
    from_cli = daemon.job(job_id)
    for job in (from_api, from_cli):
        assert job["steps"][0]["output"]["headers"]["Set-Cookie"] == "***"
        text = json.dumps(job)
        assert SESSION not in text and DB_PASSWORD not in text
    assert daemon.stop() == 0
    assert SESSION not in daemon.stdout() and DB_PASSWORD not in daemon.stdout()


def test_refuses_to_start_on_an_invalid_secret_name_with_its_location(
    tmp_path: Path, daemons: Daemons
) -> None:
    text = DOCS.replace("secrets['db-password']", "secrets['../db-password']")
    path = write(tmp_path / "docs.yaml", text, SINK="http://127.0.0.1:9")
    daemon = daemons([path]).start(wait=False)
    assert daemon.wait_exit() == 1
    stderr = daemon.stderr()
    assert "refusing to start: the documents are invalid" in stderr
    assert f"{path}:5:17: invalid secret name '../db-password'" in stderr
    assert "Traceback" not in stderr


def test_refuses_to_start_on_a_missing_secret_as_an_environment_error(
    tmp_path: Path, daemons: Daemons
) -> None:
    path = write(tmp_path / "docs.yaml", DOCS, SINK="http://127.0.0.1:9")
    daemon = daemons([path]).start(wait=False)  # its secrets folder is empty
    assert daemon.wait_exit() == 2
    stderr = daemon.stderr()
    assert "refusing to start: secrets are not provided" in stderr
    assert f"{path}:5:" in stderr and "secret 'db-password' is not provided" in stderr
