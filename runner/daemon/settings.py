"""Daemon settings: command-line flags, then `RUNNER_*` environment variables, then defaults."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.durations import parse_duration, parse_size

DEFAULT_STORE = "sqlite:///runner.db"
LOG_FORMATS = ("auto", "json", "text")
LOG_LEVELS = ("debug", "info", "warning", "error")
EVENT_LOOPS = ("uvloop", "asyncio")


@dataclass
class Settings:
    """Everything `runner serve` can be told; see the README's Configuration table."""

    paths: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 8080
    store: str = DEFAULT_STORE
    workers: int = 64  # jobs running at once in this process; 0: accept and poll, run nothing
    replica: str = field(default_factory=lambda: _default_replica())  # its name in a shared store
    lease: float = 30.0  # a replica that stops heartbeating loses its jobs and polls after this
    shutdown_grace: float = 30.0  # SIGTERM: how long running steps may take to finish
    retention_age: float = 30 * 86400.0  # finished jobs older than this are pruned
    retention_count: int = 100_000  # ... and only this many finished jobs are kept
    prune_every: float = 3600.0
    log_format: str = "auto"  # auto | json | text
    log_level: str = "info"
    reload: bool = False  # watch the document files and reload on change
    api_token: str | None = None  # the jobs API and the pages' login; see runner.ui.access
    ui: bool = True  # serve the job history pages under /ui/
    ui_session: float = 12 * 3600.0  # how long a login to the pages lasts
    demo: bool = True  # serve the /demo/ endpoints the bundled recipes use
    event_loop: str = "uvloop"  # uvloop (faster; asyncio where uvloop is not installed) | asyncio

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **flags: object) -> Settings:
        """Settings from the environment, overridden by flags that are not None.

        Raises ValueError naming the variable when a value is not valid.
        """
        env = os.environ if environ is None else environ
        s = cls()
        read = _reader(env)
        s.host = read("RUNNER_HOST", str, s.host)
        s.port = read("RUNNER_PORT", port_number, s.port)
        s.store = read("RUNNER_STORE", str, s.store)
        s.workers = read("RUNNER_WORKERS", whole_number, s.workers)
        s.replica = read("RUNNER_REPLICA", str, s.replica)
        s.lease = read("RUNNER_LEASE", parse_duration, s.lease)
        s.shutdown_grace = read("RUNNER_SHUTDOWN_GRACE", parse_duration, s.shutdown_grace)
        s.retention_age = read("RUNNER_RETENTION_AGE", parse_duration, s.retention_age)
        s.retention_count = read("RUNNER_RETENTION_COUNT", _positive, s.retention_count)
        s.prune_every = read("RUNNER_PRUNE_EVERY", _positive_duration, s.prune_every)
        # Read where they apply (the templates, the recorder); checked here so that a bad value
        # stops the daemon at start as every other variable's does.
        read("RUNNER_MAX_RENDER", parse_size, None)
        read("RUNNER_BODY_LIMIT", parse_size, None)
        s.log_format = read("RUNNER_LOG_FORMAT", _choice(LOG_FORMATS), s.log_format)
        s.log_level = read("RUNNER_LOG_LEVEL", _choice(LOG_LEVELS), s.log_level)
        s.reload = read("RUNNER_RELOAD", _flag, s.reload)
        s.api_token = env.get("RUNNER_API_TOKEN") or None
        s.demo = read("RUNNER_DEMO", _flag, s.demo)
        s.ui = read("RUNNER_UI", _flag, s.ui)
        s.ui_session = read("RUNNER_UI_SESSION", _positive_duration, s.ui_session)
        s.event_loop = read("RUNNER_EVENT_LOOP", _choice(EVENT_LOOPS), s.event_loop)
        for name, value in flags.items():
            if value is not None:
                setattr(s, name, value)
        if s.workers < 0:
            raise ValueError(f"--workers must be 0 or more, got {s.workers}")
        if s.lease <= 0:
            raise ValueError(f"RUNNER_LEASE must be positive, got {s.lease}")
        return s


def _reader(env: Mapping[str, str]) -> Callable[[str, Callable[[str], Any], Any], Any]:
    def read(name: str, parse: Callable[[str], Any], default: Any) -> Any:
        text = env.get(name, "").strip()
        if not text:
            return default
        try:
            return parse(text)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    return read


def _default_replica() -> str:
    import socket

    return f"{socket.gethostname()}-{os.getpid()}"


def whole_number(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"expected a whole number, got {text!r}")
    return int(text)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _positive_duration(text: str) -> float:
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError(f"expected a duration above 0, got {text!r}")
    return seconds


def port_number(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise ValueError(f"expected a port number from 0 to 65535, got {text!r}")
    return int(text)


def _flag(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {text!r}")
        return text.lower()
    return parse
