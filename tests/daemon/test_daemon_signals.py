"""Process lifecycle of `runner serve`: SIGTERM drain, resume after the grace, SIGHUP, refusals."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.daemon.conftest import DaemonProcess, Sink, http, wait_for, write
from tests.support.servers import Reply

CONNECTION = """\
kind: connection
name: sink
base_url: "@SINK@"
private_network: true
"""
TWO_STEPS = (
    CONNECTION
    + """\
---
kind: recipe
name: two-steps
trigger: {webhook: {path: work}}
steps:
  - id: first
    request: {connection: sink, method: POST, url: /first, json: {n: "{{ trigger.body.n }}"}}
  - id: second
    request: {connection: sink, method: POST, url: /second, json: {n: "{{ trigger.body.n }}"}}
"""
)
HOOK = """\
kind: recipe
name: @NAME@
trigger: {webhook: {path: @NAME@}}
steps:
  - id: forward
    request: {connection: sink, method: POST, url: /@NAME@, json: {n: "{{ trigger.body.n }}"}}
"""
Daemons = Callable[..., DaemonProcess]


def post(daemon: DaemonProcess, path: str, n: object) -> tuple[int, dict[str, Any]]:
    status, body = http(
        "POST",
        f"{daemon.url}/webhooks/{path}",
        json.dumps({"n": n}).encode(),
        {"Content-Type": "application/json"},
    )
    return status, json.loads(body)


def logged(daemon: DaemonProcess, message: str) -> list[dict[str, object]]:
    return [e for e in daemon.log_entries() if e["message"].startswith(message)]


def test_sigterm_lets_a_running_step_finish_then_exits_0(
    tmp_path: Path, sink: Sink, daemons: Daemons
) -> None:
    sink.script("/second", Reply(json={"slow": True}, delay=1.0))
    daemon = daemons([write(tmp_path / "r.yaml", TWO_STEPS, SINK=sink.url)]).start()
    status, answer = post(daemon, "work", 1)
    assert status == 202
    wait_for(lambda: sink.for_path("/second"), 10, "the slow step to start")
    started = time.monotonic()
    daemon.signal(signal.SIGTERM)
    # While it drains, the daemon is not ready and refuses new webhooks.
    wait_for(lambda: http("GET", f"{daemon.url}/readyz")[0] == 503, 2, "readyz to say 503")
    assert post(daemon, "work", 2)[0] == 503
    assert daemon.wait_exit() == 0
    assert time.monotonic() - started >= 0.5  # it waited for the step
    assert daemon.job(answer["job_id"])["status"] == "succeeded"
    assert [len(sink.for_path(p)) for p in ("/first", "/second")] == [1, 1]
    assert logged(daemon, "stopped")


def test_a_job_cut_off_by_the_grace_resumes_at_its_unfinished_step(
    tmp_path: Path, sink: Sink, daemons: Daemons
) -> None:
    sink.script("/second", Reply(json={"slow": True}, delay=5.0))
    sync = TWO_STEPS.replace("{path: work}", "{path: work, respond: sync, timeout: 30s}")
    daemon = daemons(
        [write(tmp_path / "r.yaml", sync, SINK=sink.url)], env={"RUNNER_SHUTDOWN_GRACE": "300ms"}
    ).start()
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(post, daemon, "work", 7)  # `respond: sync` waits for the job
        wait_for(lambda: sink.for_path("/second"), 10, "the slow step to start")
        started = time.monotonic()
        daemon.signal(signal.SIGTERM)
        status, answer = waiting.result(timeout=5)
    assert (status, answer["error"]["code"]) == (503, "shutting-down")  # not a 30 s wait
    assert daemon.wait_exit() == 0
    assert time.monotonic() - started < 4  # it gave up on the 5 s step after the grace
    job_id = answer["error"]["job_id"]
    left = daemon.job(job_id)
    assert left["status"] == "queued"  # handed back: nothing runs it while the daemon is down
    assert [s["id"] for s in left["steps"]] == ["first"]
    assert logged(daemon, "jobs still running at the end of the grace period were handed back to "
                          "the queue; they resume on the next start")

    daemon.start()
    wait_for(lambda: len(sink.for_path("/second")) == 2, 10, "the resumed step")
    wait_for(lambda: daemon.job(job_id)["status"] == "succeeded", 10, "the resumed job to end")
    assert sink.keys("/first") == [f"{job_id}-first"]  # the finished step was not sent again
    assert sink.keys("/second") == [f"{job_id}-second"] * 2  # the one in flight was
    assert daemon.stop() == 0


def test_sighup_keeps_serving_the_old_documents_when_the_new_are_broken(
    tmp_path: Path, sink: Sink, daemons: Daemons
) -> None:
    folder = tmp_path / "documents"
    write(folder / "sink.yaml", CONNECTION, SINK=sink.url)
    write(folder / "alpha.yaml", HOOK, NAME="alpha")
    daemon = daemons([folder]).start()
    assert post(daemon, "alpha", 1)[0] == 202

    broken = write(folder / "beta.yaml", HOOK.replace("steps:", "stepz:"), NAME="beta")
    daemon.signal(signal.SIGHUP)
    [refused] = wait_for(lambda: logged(daemon, "reload refused"), 10, "the refused reload")
    problems: list[str] = refused["problems"]  # type: ignore[assignment]
    assert any(str(broken) in problem for problem in problems)
    assert post(daemon, "alpha", 2)[0] == 202
    assert post(daemon, "beta", 3)[0] == 404
    assert http("GET", f"{daemon.url}/readyz")[0] == 200

    write(folder / "beta.yaml", HOOK, NAME="beta")
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: logged(daemon, "documents reloaded"), 10, "the reload")
    assert post(daemon, "beta", 4)[0] == 202
    assert post(daemon, "alpha", 5)[0] == 202
    wait_for(lambda: len(sink.requests) == 4, 10, "every accepted webhook's request")
    assert sorted(r.json()["n"] for r in sink.requests) == [1, 2, 4, 5]
    assert daemon.stop() == 0


def test_refuses_to_start_on_invalid_documents(tmp_path: Path, daemons: Daemons) -> None:
    path = write(
        tmp_path / "bad.yaml",
        CONNECTION.replace("private_network", "private_netwrk"),
        SINK="http://127.0.0.1:9",
    )
    daemon = daemons([path]).start(wait=False)
    assert daemon.wait_exit() == 1
    stderr = daemon.stderr()
    assert "refusing to start: the documents are invalid" in stderr
    assert f"{path}:4:1: " in stderr and "private_netwrk" in stderr
    assert not daemon.stdout().strip() or "listening" not in daemon.stdout()


def test_refuses_to_start_when_a_secret_is_missing(tmp_path: Path, daemons: Daemons) -> None:
    path = write(
        tmp_path / "r.yaml",
        CONNECTION.replace(
            "private_network: true",
            'private_network: true\nheaders: {X-Key: "{{ secrets.NOT_PROVIDED }}"}',
        ),
        SINK="http://127.0.0.1:9",
    )
    daemon = daemons([path]).start(wait=False)
    assert daemon.wait_exit() == 2  # the environment lacks it: the documents are right
    assert f"{path}:" in daemon.stderr() and "NOT_PROVIDED" in daemon.stderr()


def test_refuses_to_start_on_a_missing_path(tmp_path: Path, daemons: Daemons) -> None:
    daemon = daemons([tmp_path / "nowhere"]).start(wait=False)
    assert daemon.wait_exit() == 2
    assert "nowhere" in daemon.stderr() and "Traceback" not in daemon.stderr()


OAUTH = """\
kind: connection
name: crm
base_url: https://crm.example.com
auth:
  type: oauth2_authorization_code
  authorization_url: https://crm.example.com/authorize
  token_url: https://crm.example.com/token
  client_id: runner-test
  client_secret: "{{ secrets.CRM_SECRET }}"
"""


def test_oauth2_needs_the_secret_key_and_the_daemon_answers_its_callback(
    tmp_path: Path, daemons: Daemons
) -> None:
    path = write(tmp_path / "crm.yaml", OAUTH)
    refused = daemons([path], env={"CRM_SECRET": "s"}).start(wait=False)
    assert refused.wait_exit() == 2  # the environment's problem, as any secret not provided
    assert "RUNNER_SECRET_KEY" in refused.stderr()

    key = "k" * 32
    daemon = daemons([path], env={"CRM_SECRET": "s", "RUNNER_SECRET_KEY": key}).start()
    status, page = http("GET", f"{daemon.url}/oauth/callback?state=crm.nonce&code=c")
    assert status == 400  # the daemon's runtime knows crm; no `runner connect` is waiting
    assert "no authorization of connection crm is waiting" in page.decode()
    assert daemon.stop() == 0


def test_port_0_listens_where_the_system_chose_and_logs_that_port(
    tmp_path: Path, daemons: Daemons
) -> None:
    daemon = daemons([write(tmp_path / "r.yaml", TWO_STEPS, SINK="http://127.0.0.1:9")])
    daemon.port = 0
    daemon.start(wait=False)
    url = wait_for(lambda: next((e["url"] for e in daemon.log_entries()
                                 if e["message"] == "listening"), None), 20, "the listening line")
    assert not url.endswith(":0")
    with urllib.request.urlopen(url + "/healthz", timeout=5) as answer:
        assert answer.status == 200
    assert daemon.stop() == 0


def test_replaying_a_job_of_a_recipe_no_longer_loaded_is_refused(
    tmp_path: Path, sink: Sink, daemons: Daemons
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    write(folder / "sink.yaml", CONNECTION, SINK=sink.url)
    write(folder / "alpha.yaml", HOOK, NAME="alpha")
    daemon = daemons([folder], env={"RUNNER_API_TOKEN": "api-token-1"}).start()
    job_id = post(daemon, "alpha", 1)[1]["job_id"]
    (folder / "alpha.yaml").unlink()
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: logged(daemon, "documents reloaded"), 10, "the reload")
    status, body = http("POST", f"{daemon.url}/api/jobs/{job_id}/replay", b"",
                        {"Authorization": "Bearer api-token-1"})
    assert status == 409
    assert json.loads(body)["error"]["code"] == "recipe-not-loaded"
    assert daemon.stop() == 0


def test_the_first_event_after_start_already_hides_the_secrets_the_documents_name(
    tmp_path: Path, sink: Sink, daemons: Daemons
) -> None:
    recipe = HOOK.replace('json: {n: "{{ trigger.body.n }}"}',
                          'json: {n: "{{ trigger.body.n }}"}, headers: {X-T: "{{ secrets.STEP_TOKEN }}"}')
    folder = tmp_path / "docs"
    folder.mkdir()
    write(folder / "sink.yaml", CONNECTION, SINK=sink.url)
    write(folder / "hook.yaml", recipe, NAME="alpha")
    daemon = daemons([folder], env={"STEP_TOKEN": "step-token-4a9e"}).start()
    job_id = post(daemon, "alpha", "the token is step-token-4a9e")[1]["job_id"]  # the first event
    wait_for(lambda: daemon.job(job_id)["status"] == "succeeded", 10, "the job")
    assert daemon.job(job_id)["event"]["body"] == {"n": "the token is ***"}
    assert daemon.stop() == 0
