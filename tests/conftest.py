"""Shared fixtures: real servers (httpbin, a recording sink), TLS files, and documents to run."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# Parsed OpenAPI documents are cached on disk (runner.openapi.cache): tests keep theirs apart
# from the user's cache, in one folder per run shared with the processes tests start.
os.environ.setdefault("RUNNER_CACHE_DIR", tempfile.mkdtemp(prefix="runner-test-cache-"))

from tests.support.certs import TLSFiles, make_certificates
from tests.support.servers import RecordingSink, httpbin_server, serve_app


@pytest.fixture(scope="session")
def httpbin_url() -> Iterator[str]:
    with httpbin_server() as url:
        yield url


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@dataclass
class Sink:
    """A RecordingSink being served, and its base URL."""

    recorder: RecordingSink
    url: str


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    recorder = RecordingSink()
    async with serve_app(recorder.make_app()) as url:
        yield Sink(recorder, url)


@pytest.fixture
def make_project(tmp_path: Path) -> Callable[..., Any]:
    """`make_project(yaml_text, name="docs.yaml")`: writes, validates and compiles documents."""
    from runner.commands.common import load_project

    def make(text: str, name: str = "docs.yaml") -> Any:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        project, _ = load_project([str(path)])
        return project

    return make


@pytest.fixture
async def make_runtime() -> AsyncIterator[Callable[..., Any]]:
    """`make_runtime(project, env={...})`: a runtime whose secrets come from `env`; closed after."""
    from runner.engine.runtime import build_runtime
    from runner.secrets import SecretSource

    built: list[Any] = []

    def make(project: Any, env: dict[str, str] | None = None, **kwargs: Any) -> Any:
        source = SecretSource(environ=env or {}, secrets_dir="/nonexistent")
        runtime = build_runtime(project, secrets=source, **kwargs)
        built.append(runtime)
        return runtime

    yield make
    for runtime in built:
        await runtime.close()


@pytest.fixture
def run_recipe(make_runtime: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """`await run_recipe(project, "name", event, env={...}, dry_run=False)`: one job's record."""
    from runner.engine.job import new_job, run_job

    async def run(
        project: Any, name: str, event: dict[str, Any] | None = None,
        env: dict[str, str] | None = None, dry_run: bool = False, runtime: Any = None,
    ) -> Any:
        runtime = runtime or make_runtime(project, env)
        job = new_job(name, event if event is not None else {"body": {}, "headers": {}})
        return await run_job(runtime, project.recipes[name], job, dry_run=dry_run)

    return run
