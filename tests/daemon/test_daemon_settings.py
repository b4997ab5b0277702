"""The daemon's settings (flags over RUNNER_* over defaults) and its log formatting, in process."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from runner.daemon.settings import Settings
from runner.logs import configure
from runner.redact import Redactor


def test_environment_overrides_defaults_and_flags_override_the_environment() -> None:
    env = {
        "RUNNER_PORT": "9000",
        "RUNNER_WORKERS": "3",
        "RUNNER_SHUTDOWN_GRACE": "250ms",
        "RUNNER_RETENTION_AGE": "7d",
        "RUNNER_RELOAD": "true",
        "RUNNER_DEMO": "false",
        "RUNNER_API_TOKEN": "t",
        "RUNNER_LOG_FORMAT": "JSON",
    }
    settings = Settings.from_env(env, port=9100, workers=None)
    assert (settings.port, settings.workers, settings.shutdown_grace) == (9100, 3, 0.25)
    assert settings.retention_age == 7 * 86400 and settings.reload and not settings.demo
    assert (settings.api_token, settings.log_format) == ("t", "json")
    assert Settings.from_env({}) == Settings()


def test_zero_workers_is_an_accept_only_replica_and_leases_are_settable() -> None:
    settings = Settings.from_env({"RUNNER_WORKERS": "0", "RUNNER_LEASE": "10s", "RUNNER_REPLICA": "a"})
    assert (settings.workers, settings.lease, settings.replica) == (0, 10.0, "a")
    assert Settings.from_env({}).replica  # a default name: host and process id


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RUNNER_WORKERS", "-1"),
        ("RUNNER_WORKERS", "many"),
        ("RUNNER_PORT", "70000"),
        ("RUNNER_SHUTDOWN_GRACE", "soon"),
        ("RUNNER_RELOAD", "maybe"),
        ("RUNNER_LOG_FORMAT", "xml"),
    ],
)
def test_an_invalid_variable_is_named_in_the_error(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"^{name}: .*{value}"):
        Settings.from_env({name: value})


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_secret_in_a_logged_traceback_is_redacted(
    fmt: str, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    redactor = Redactor()
    redactor.add("s3cret-in-traceback")
    configure(redactor, fmt)
    try:
        raise RuntimeError("upstream said s3cret-in-traceback")
    except RuntimeError:
        logging.getLogger("runner.test").exception("job crashed", extra={"job": "j1"})
    out = capsys.readouterr().out
    assert "s3cret-in-traceback" not in out
    assert "RuntimeError: upstream said ***" in (
        json.loads(out)["exception"] if fmt == "json" else out
    )


def test_every_route_is_served_by_a_coroutine_function(tmp_path: object) -> None:
    """aiohttp wraps any other handler in a deprecated shim: a coroutine level per request."""
    import asyncio
    import warnings

    from runner.daemon.app import create_app
    from runner.daemon.service import Daemon

    daemon = Daemon(Settings(store=f"sqlite:///{tmp_path}/r.db", api_token="t", demo=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        app = create_app(daemon)
    handlers = [route.handler for route in app.router.routes()]
    assert len(handlers) > 5
    assert all(asyncio.iscoroutinefunction(h) for h in handlers), handlers
