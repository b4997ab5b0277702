"""kill -9 under load: every webhook answered 2xx reaches the sink; no finished step runs twice."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest

from tests.daemon.conftest import DaemonProcess, Sink, until, write
from tests.support.servers import Reply

WEBHOOKS = 300
KILL_AFTER = 150  # accepted webhooks before the SIGKILL
WORKERS = 4
SENDERS = 8  # webhooks in flight at once
PACE = 0.04  # each sender's pause between webhooks: ~200/s, so the kill lands mid-processing
TOKEN = "crash-test-token"
RECIPE = """\
kind: connection
name: sink
base_url: "@SINK@"
private_network: true
---
kind: recipe
name: load
concurrency: 4
trigger: {webhook: {path: load}}
steps:
  - id: first
    request: {connection: sink, method: POST, url: /first, json: {n: "{{ trigger.body.n }}"}}
  - id: second
    request: {connection: sink, method: POST, url: /second, json: {n: "{{ trigger.body.n }}"}}
"""


async def send(
    client: aiohttp.ClientSession,
    daemon: DaemonProcess,
    numbers: list[int],
    accepted: dict[int, str],
    kill_after: int | None = None,
) -> None:
    """Posts one webhook per number, SENDERS at a time; SIGKILLs the daemon after `kill_after`."""
    gate = asyncio.Semaphore(SENDERS)

    async def one(n: int) -> None:
        async with gate:
            try:
                async with client.post(f"{daemon.url}/webhooks/load", json={"n": n}) as response:
                    if 200 <= response.status < 300:
                        accepted[n] = (await response.json())["job_id"]
            except (TimeoutError, aiohttp.ClientError, OSError):
                return  # not acknowledged: the sender would retry
            await asyncio.sleep(PACE)
            if kill_after is not None and len(accepted) >= kill_after and daemon.alive:
                daemon.kill()

    await asyncio.gather(*(one(n) for n in numbers))


async def idle(client: aiohttp.ClientSession, daemon: DaemonProcess) -> bool:
    for status in ("queued", "running"):
        async with client.get(
            f"{daemon.url}/api/jobs",
            params={"status": status, "limit": "1"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response:
            if (await response.json())["jobs"]:
                return False
    return True


def checkpointed_before_the_kill(daemon: DaemonProcess) -> set[str]:
    """`<job>-<step>` of every step the first process logged as finished (after its checkpoint)."""
    lines = (daemon.workdir / "stdout.1.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    return {f"{e['job']}-{e['step']}" for e in entries if e["message"] == "step finished"}


async def test_kill_9_under_load_loses_no_acknowledged_webhook_and_repeats_no_finished_step(
    tmp_path: Path,
    sink: Sink,
    daemons: Callable[..., DaemonProcess],
    capsys: pytest.CaptureFixture[str],
) -> None:
    sink.recorder.default = Reply(json={"ok": True}, delay=0.01)  # keeps steps in flight
    daemon = daemons(
        [write(tmp_path / "load.yaml", RECIPE, SINK=sink.url)],
        env={"RUNNER_API_TOKEN": TOKEN, "RUNNER_LOG_LEVEL": "debug"},  # a line per step
        args=["--workers", str(WORKERS)],
    ).start()
    accepted: dict[int, str] = {}
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as client:
        await send(client, daemon, list(range(WEBHOOKS)), accepted, kill_after=KILL_AFTER)
        assert not daemon.alive, "the daemon was not killed"
        at_kill = len(accepted)
        finished = checkpointed_before_the_kill(daemon)
        daemon.start()
        # Senders retry what was not acknowledged, as GitHub or Stripe would.
        await send(client, daemon, [n for n in range(WEBHOOKS) if n not in accepted], accepted)
        expected = {f"{job}-{step}" for job in accepted.values() for step in ("first", "second")}
        await until(lambda: expected <= set(sink.keys()), 20, "every accepted job's two steps")
        await until(lambda: idle(client, daemon), 10, "the queue to drain")
        async with client.get(
            f"{daemon.url}/api/jobs",
            params={"status": "failed"},
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as response:
            assert (await response.json())["jobs"] == []
    assert daemon.stop() == 0

    sent = Counter(sink.keys())
    duplicates = {key: count for key, count in sent.items() if count > 1}
    jobs = {key.rsplit("-", 1)[0] for key in sent}
    with capsys.disabled():
        print(
            f"\nkill -9 under load: accepted {len(accepted)} ({at_kill} before the kill); "
            f"delivered {len(sent)} distinct steps of {len(jobs)} jobs "
            f"({len(finished)} checkpointed before the kill); "
            f"duplicates {len(duplicates)} (bound: {WORKERS} workers)"
        )
    assert len(accepted) == WEBHOOKS
    assert not duplicates.keys() & finished, "a checkpointed step was sent again"
    assert all(count == 2 for count in duplicates.values())
    assert len(duplicates) <= WORKERS
