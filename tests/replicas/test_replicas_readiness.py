"""`/readyz` reflects the database: 503 while a replica cannot reach it, 200 once it can again.

The replica reaches PostgreSQL through a TCP forwarder the test can cut (closing every
connection and refusing new ones) and reopen on the same port. A replica that cannot reach the
database at start-up refuses to start (exit 2) rather than serve without it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit

from tests.daemon.conftest import Sink, free_port, http, wait_for, write
from tests.replicas.conftest import Replica, Shared
from tests.replicas.outage import Partition, through

RECIPE = """\
kind: connection
name: sink
base_url: "@SINK@"
private_network: true
---
kind: recipe
name: ping
trigger: {webhook: {path: ping}}
steps:
  - id: call
    request: {connection: sink, method: POST, url: /ping, json: {n: "{{ trigger.body.n }}"}}
"""


def readiness(replica: Replica) -> tuple[int, dict[str, object]]:
    status, body = http("GET", f"{replica.url}/readyz", timeout=5)
    return status, json.loads(body)


def webhook(replica: Replica, n: int) -> int:
    body = json.dumps({"n": n}).encode()
    headers = {"Content-Type": "application/json"}
    return http("POST", f"{replica.url}/webhooks/ping", body, headers, timeout=10)[0]


def test_readyz_is_503_while_the_database_is_unreachable_and_200_when_it_is_back(
    tmp_path: Path,
    sink: Sink,
    shared: Shared,
    partition: Partition,
    replicas: Callable[..., Replica],
) -> None:
    replica = replicas([write(tmp_path / "ping.yaml", RECIPE, SINK=sink.url)], "g0", 2)
    replica.store = through(shared.url, partition.port)
    replica.start()
    assert readiness(replica) == (
        200,
        {"status": "ready", "store": True, "documents_loaded": True, "accepting": True},
    )
    assert webhook(replica, 1) == 202

    partition.cut()
    down = wait_for(lambda: readiness(replica)[0] == 503 and readiness(replica), 15, "503")
    assert down[1]["store"] is False
    assert webhook(replica, 2) == 503  # not acknowledged, so the sender retries it

    partition.reopen()
    wait_for(lambda: readiness(replica)[0] == 200, 15, "/readyz to be 200 again")
    assert webhook(replica, 3) == 202
    wait_for(lambda: {r.json()["n"] for r in sink.for_path("/ping")} >= {1, 3}, 15, "jobs 1, 3")
    assert replica.alive


def test_a_replica_that_cannot_reach_the_database_refuses_to_start(
    tmp_path: Path, shared: Shared, replicas: Callable[..., Replica]
) -> None:
    replica = replicas([write(tmp_path / "ping.yaml", RECIPE, SINK="http://127.0.0.1:9")], "g1")
    replica.store = through(shared.url, free_port())  # nobody listens there
    replica.start(wait=False)
    assert replica.wait_exit() == 2
    assert "refusing to start: store:" in replica.stderr()


def test_the_database_password_in_the_store_url_never_reaches_the_logs(
    tmp_path: Path, shared: Shared, replicas: Callable[..., Replica]
) -> None:
    password = "db-password-5be1/7c"  # trust authentication on the test server ignores it
    replica = replicas([write(tmp_path / "ping.yaml", RECIPE, SINK="http://127.0.0.1:9")], "g2")
    parts = urlsplit(shared.url)
    user = parts.username or "postgres"
    netloc = f"{user}:{quote(password, safe='')}@{parts.hostname}:{parts.port or 5432}"
    replica.store = parts._replace(netloc=netloc).geturl()
    replica.start()
    assert replica.stop() == 0
    logs = replica.stdout() + replica.stderr()
    assert "listening" in logs
    assert password not in logs and quote(password, safe="") not in logs
