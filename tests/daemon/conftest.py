"""Shared fixtures for the daemon tests: real `runner serve` processes and threaded upstreams.

Upstream servers (a `RecordingSink`, scripted poll APIs) run in a background thread with their own
event loop, so they outlive any one test's loop, keep answering while a test blocks on a process,
and can be shared by a module or the session. Each daemon gets its own folder, port and SQLite
store; every wait is bounded and every process is killed in teardown.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.support.servers import RecordingSink, start_app

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
START_TIMEOUT = 20.0  # a daemon on a busy 2-core machine still answers /readyz well within this
EXIT_TIMEOUT = 15.0

# Secrets of the shared "hub" daemon (tests/daemon/hub.yaml); none may show up in its output.
HUB_SECRETS = {
    "HOOK_SECRET": "hmac-secret-5f1d0c",
    "BASIC_PASSWORD": "basic-password-93ab",
    "HEADER_TOKEN": "header-token-7c2e41",
    "GITHUB_SECRET": "github-secret-d41d8c",
    "STRIPE_SECRET": "whsec_stripe-secret-0b7a",
    "SLACK_SECRET": "slack-secret-e3b0c4",
    "SW_SECRET": "whsec_c3RhbmRhcmQtd2ViaG9va3MtdGVzdC1rZXktMzJieXQ=",
    "SINK_KEY": "sink-api-key-6a09e667f3bcc908",
}
API_TOKEN = "api-token-bb67ae8584caa73b"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThreadedApp:
    """An aiohttp app on a free port of 127.0.0.1, served by a thread with its own loop."""

    def __init__(self, app: web.Application) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="upstream", daemon=True)
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(start_app(app), self.loop)
        self.url, self._cleanup = future.result(timeout=10)

    def close(self) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._cleanup(), self.loop).result(timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)
            self.loop.close()


class Sink:
    """A RecordingSink served from a thread; `requests` fill in as the daemon calls it."""

    def __init__(self) -> None:
        self.recorder = RecordingSink()
        self.server = ThreadedApp(self.recorder.make_app())
        self.url = self.server.url

    @property
    def requests(self) -> list[Any]:
        return list(self.recorder.requests)

    def script(self, path: str, *replies: Any) -> None:
        self.recorder.script(path, *replies)

    def for_path(self, path: str) -> list[Any]:
        return [r for r in self.requests if r.path == path]

    def keys(self, path: str | None = None) -> list[str]:
        """The Idempotency-Key of every request (to `path`), in arrival order."""
        return [
            r.headers.get("Idempotency-Key", "")
            for r in self.requests
            if path is None or r.path == path
        ]

    def close(self) -> None:
        self.server.close()


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, step: float = 0.02) -> Any:
    """Blocks until `predicate()` is truthy and returns its value; fails the test at `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


async def until(predicate: Callable[[], Any | Awaitable[Any]], timeout: float, what: str) -> Any:
    """`wait_for` for async tests: the predicate may be a coroutine function."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)


def http(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 5.0,
) -> tuple[int, bytes]:
    """A blocking request for fixtures and process tests: (status, body), also for 4xx/5xx."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class DaemonProcess:
    """One `runner serve` in its own folder and store; start it again to simulate a restart."""

    def __init__(
        self,
        workdir: Path,
        paths: list[Path],
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.paths = paths
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.store = f"sqlite:///{workdir / 'runner.db'}"
        self.args = args or []
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RUNNER_")}
        self.env.update(
            {
                "RUNNER_SECRETS_DIR": str(workdir / "secrets"),
                "RUNNER_DEMO": "false",
                "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.env.update(env or {})
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "runner",
            "serve",
            *map(str, self.paths),
            "--port",
            str(self.port),
            "--store",
            self.store,
            "--log-format",
            "json",
            *self.args,
        ]

    def start(self, wait: bool = True) -> DaemonProcess:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        out = open(self.workdir / f"stdout.{self.starts}.log", "wb")  # noqa: SIM115
        err = open(self.workdir / f"stderr.{self.starts}.log", "wb")  # noqa: SIM115
        with out, err:
            self.proc = subprocess.Popen(
                self.command(),
                cwd=self.workdir,
                env=self.env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
            )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        def ready() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"runner serve exited with {self.proc.returncode}:\n{self.stderr()}")
            try:
                return http("GET", f"{self.url}/readyz", timeout=1)[0] == 200
            except OSError:
                return False

        wait_for(ready, timeout, f"runner serve on port {self.port} to be ready", step=0.05)

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = EXIT_TIMEOUT) -> int:
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"runner serve did not exit within {timeout}s")

    def stop(self, timeout: float = EXIT_TIMEOUT) -> int:
        self.signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _logs(self, stream: str) -> str:
        return "".join(
            (self.workdir / f"{stream}.{n}.log").read_text("utf-8", "replace")
            for n in range(1, self.starts + 1)
        )

    def stdout(self) -> str:
        return self._logs("stdout")

    def stderr(self) -> str:
        return self._logs("stderr")

    def log_entries(self) -> list[dict[str, Any]]:
        """Every stdout line parsed as JSON (a line that is not JSON fails the test)."""
        return [json.loads(line) for line in self.stdout().splitlines() if line.strip()]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`runner <args> --store <this store>`, e.g. `cli("jobs", "list")`."""
        return subprocess.run(
            [sys.executable, "-m", "runner", *args, "--store", self.store],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def job(self, job_id: str) -> dict[str, Any]:
        result = self.cli("jobs", "show", job_id, "--format", "json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)  # type: ignore[no-any-return]

    def jobs(self, *filters: str) -> list[dict[str, Any]]:
        result = self.cli("jobs", "list", "--format", "json", "--limit", "1000", *filters)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)  # type: ignore[no-any-return]


def write(path: Path, text: str, **values: str) -> Path:
    """Writes a document, replacing `@NAME@` placeholders (YAML's `{{ }}` stays untouched)."""
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def sink() -> Iterator[Sink]:
    server = Sink()
    yield server
    server.close()


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[..., DaemonProcess]]:
    """A factory of daemon processes for one test; every one is killed at the end."""
    made: list[DaemonProcess] = []

    def make(
        paths: list[Path],
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        name: str = "daemon",
    ) -> DaemonProcess:
        workdir = tmp_path / f"{name}-{len(made)}"
        workdir.mkdir()
        daemon = DaemonProcess(workdir, paths, env, args)
        made.append(daemon)
        return daemon

    yield make
    for daemon in made:
        daemon.kill()


class Hub:
    """The shared daemon: every webhook scheme and the jobs API, with one sink behind it."""

    def __init__(self, sink: Sink, daemon: DaemonProcess) -> None:
        self.sink, self.daemon, self.url = sink, daemon, daemon.url

    def hook(self, path: str) -> str:
        return f"{self.url}/webhooks/{path}"


@pytest.fixture(scope="session")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """One daemon for the webhook, API, metrics and log tests (each uses recipes of its own)."""
    workdir = tmp_path_factory.mktemp("hub")
    server = Sink()
    recipes = write(
        workdir / "recipes" / "hub.yaml", (HERE / "hub.yaml").read_text(), SINK=server.url
    )
    daemon = DaemonProcess(workdir, [recipes], {**HUB_SECRETS, "RUNNER_API_TOKEN": API_TOKEN})
    try:
        daemon.start()
        yield Hub(server, daemon)
    finally:
        daemon.kill()
        server.close()
