"""Daemon settings: command-line flags first, then `RUNNER_*` environment variables, then defaults."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from runner.durations import parse_duration

DEFAULT_STORE = "sqlite:///runner.db"


@dataclass
class Settings:
    """Everything `runner serve` can be told; see the README's Configuration table."""

    paths: list[str] = field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 8080
    store: str = DEFAULT_STORE
    workers: int = 16  # jobs running at once in this process, all recipes together
    shutdown_grace: float = 30.0  # SIGTERM: how long running steps may take to finish
    retention_age: float = 30 * 86400.0  # finished jobs older than this are pruned
    retention_count: int = 100_000  # ... and only this many finished jobs are kept
    prune_every: float = 600.0
    log_format: str = "auto"  # auto | json | text
    log_level: str = "info"
    reload: bool = False  # watch the document files and reload on change
    api_token: str | None = None  # enables /api/jobs when set
    demo: bool = True  # serve the /demo/ endpoints the bundled recipes use

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **flags: object) -> Settings:
        """Settings from the environment, overridden by flags that are not None."""
        env = os.environ if environ is None else environ
        s = cls()
        s.host = env.get("RUNNER_HOST", s.host)
        s.port = int(env.get("RUNNER_PORT", s.port))
        s.store = env.get("RUNNER_STORE", s.store)
        s.workers = int(env.get("RUNNER_WORKERS", s.workers))
        s.shutdown_grace = parse_duration(env.get("RUNNER_SHUTDOWN_GRACE", s.shutdown_grace))
        s.retention_age = parse_duration(env.get("RUNNER_RETENTION_AGE", s.retention_age))
        s.retention_count = int(env.get("RUNNER_RETENTION_COUNT", s.retention_count))
        s.log_format = env.get("RUNNER_LOG_FORMAT", s.log_format)
        s.log_level = env.get("RUNNER_LOG_LEVEL", s.log_level)
        s.reload = env.get("RUNNER_RELOAD", "") in ("1", "true", "yes")
        s.api_token = env.get("RUNNER_API_TOKEN") or None
        s.demo = env.get("RUNNER_DEMO", "true") not in ("0", "false", "no")
        for name, value in flags.items():
            if value is not None:
                setattr(s, name, value)
        return s
