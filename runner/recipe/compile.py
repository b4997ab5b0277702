"""Specs to immutable runtime objects, with every template compiled once, when documents load.

A job never parses YAML or compiles Jinja: it renders these objects and sends. Nothing here
imports aiohttp, so `runner validate` stays fast.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from runner.errors import DocumentError
from runner.http.retry import RetryPolicy
from runner.recipe.loader import LoadResult
from runner.recipe.models import (
    ConnectionSpec,
    PollSpec,
    RecipeSpec,
    RequestFields,
    RetrySpec,
    StepSpec,
    WebhookSpec,
)
from runner.templating import CompiledTree, Template, compile_template, compile_tree

BodyKind = Literal["none", "json", "form", "raw"]


@dataclass(frozen=True)
class RequestTemplate:
    """A request whose URL, parameters, headers and body are compiled templates."""

    method: str
    url: Template
    params: CompiledTree
    headers: CompiledTree
    body_kind: BodyKind
    body: CompiledTree | None
    content_type: Template | None
    expect: frozenset[int] | None
    timeout: float | None
    connection: str | None
    # Whether the URL may render to an absolute one with a connection: only when the recipe
    # itself writes the scheme, or starts it with its own `vars`/`secrets`. A URL written as a
    # path must stay under base_url, or data could send the connection's credentials elsewhere.
    absolute_ok: bool = True


# Names whose values the recipe's author controls (unlike `trigger` and `steps`: data).
_AUTHORED = frozenset({"vars", "secrets", "recipe"})


def _absolute_ok(url: str) -> bool:
    text = url.strip()
    if text.lower().startswith(("http://", "https://")):
        return True
    if not text.startswith("{{"):
        return False
    head = compile_template(text[: text.find("}}") + 2]) if "}}" in text else None
    return head is not None and all(ref.root in _AUTHORED for ref in head.references)


@dataclass(frozen=True)
class Step:
    id: str
    condition: CompiledTree | None
    for_each: CompiledTree | None
    request: RequestTemplate
    retry: RetryPolicy | None
    on_error: str
    idempotency_key: bool


@dataclass(frozen=True)
class Poll:
    spec: PollSpec
    request: RequestTemplate
    records: Template
    key: Template
    updated: Template | None
    cursor: Template | None
    next_page: Template | None


@dataclass(frozen=True)
class Webhook:
    spec: WebhookSpec
    path: str
    dedup: Template | None
    auth: CompiledTree | None
    response: CompiledTree | None


@dataclass(frozen=True)
class Recipe:
    spec: RecipeSpec
    name: str
    vars: CompiledTree
    steps: tuple[Step, ...]
    webhook: Webhook | None
    poll: Poll | None


@dataclass(frozen=True)
class Connection:
    spec: ConnectionSpec
    name: str
    base_url: Template | None
    headers: CompiledTree
    params: CompiledTree
    auth: CompiledTree
    retry: RetryPolicy | None
    test: RequestTemplate | None
    folder: Path  # the document's folder: relative TLS paths start here

    def file_path(self, path: str | None) -> str | None:
        """A TLS file path as the runtime opens it."""
        return None if path is None else str(self.folder / path)


@dataclass(frozen=True)
class Project:
    """Every valid document of a set of paths, ready to run."""

    connections: dict[str, Connection]
    recipes: dict[str, Recipe]
    sources: dict[str, str] = field(default_factory=dict)  # recipe name -> file it came from

    def narrowed(self, connections: Iterable[str]) -> Project:
        """The project with only these connections: what a one-shot command sets up, so that
        a connection it does not use (a secret not provided here, a client key mounted only
        where the daemon runs) does not stop it."""
        wanted = set(connections)
        kept = {name: conn for name, conn in self.connections.items() if name in wanted}
        return Project(kept, self.recipes, self.sources)


def connections_used(recipe: Recipe) -> set[str]:
    """The connections a recipe's poll and steps name."""
    requests = [step.request for step in recipe.steps]
    if recipe.poll is not None:
        requests.append(recipe.poll.request)
    return {r.connection for r in requests if r.connection is not None}


def retry_policy(spec: RetrySpec | None) -> RetryPolicy | None:
    if spec is None:
        return None
    return RetryPolicy(
        attempts=spec.attempts, backoff=spec.backoff, max_backoff=spec.max_backoff,
        on=frozenset(spec.on) if "on" in spec.model_fields_set else None,
    )


def compile_request(spec: RequestFields, connection: str | None) -> RequestTemplate:
    kind: BodyKind = "none"
    body: Any = None
    if spec.has_json:
        kind, body = "json", spec.json_body
    elif spec.form is not None:
        kind, body = "form", spec.form
    elif spec.body is not None:
        kind, body = "raw", spec.body
    return RequestTemplate(
        method=spec.method,
        url=compile_template(spec.url),
        params=compile_tree(spec.params),
        headers=compile_tree(spec.headers),
        body_kind=kind,
        body=None if kind == "none" else compile_tree(body),
        content_type=None if spec.content_type is None else compile_template(spec.content_type),
        expect=None if spec.expect is None else frozenset(spec.expect),
        timeout=spec.timeout,
        connection=connection,
        absolute_ok=_absolute_ok(spec.url),
    )


def compile_step(spec: StepSpec) -> Step:
    return Step(
        id=spec.id,
        condition=None if spec.if_ is None else compile_tree(spec.if_),
        for_each=None if spec.for_each is None else compile_tree(spec.for_each),
        request=compile_request(spec.request, spec.request.connection),
        retry=retry_policy(spec.retry),
        on_error=spec.on_error,
        idempotency_key=spec.idempotency_key,
    )


def _optional(text: str | None) -> Template | None:
    return None if text is None else compile_template(text)


def compile_recipe(spec: RecipeSpec) -> Recipe:
    webhook = poll = None
    if spec.trigger.webhook is not None:
        hook = spec.trigger.webhook
        webhook = Webhook(
            spec=hook,
            path=spec.webhook_path or spec.name,
            dedup=_optional(hook.dedup),
            auth=None if hook.auth is None else compile_tree(hook.auth.model_dump()),
            response=None if hook.response is None else compile_tree(hook.response.model_dump()),
        )
    if spec.trigger.poll is not None:
        p = spec.trigger.poll
        poll = Poll(
            spec=p,
            request=compile_request(p.request, p.connection),
            records=compile_template(p.records),
            key=compile_template(p.key),
            updated=_optional(p.updated),
            cursor=_optional(p.cursor),
            next_page=_optional(p.next_page),
        )
    return Recipe(
        spec=spec,
        name=spec.name,
        vars=compile_tree(spec.vars),
        steps=tuple(compile_step(s) for s in spec.steps),
        webhook=webhook,
        poll=poll,
    )


def compile_connection(spec: ConnectionSpec, file: str) -> Connection:
    return Connection(
        spec=spec,
        name=spec.name,
        base_url=_optional(spec.base_url),
        headers=compile_tree(spec.headers),
        params=compile_tree(spec.params),
        auth=compile_tree(spec.auth.model_dump()),
        retry=retry_policy(spec.retry),
        test=None if spec.test is None else compile_request(spec.test, spec.name),
        folder=Path(file).resolve().parent,
    )


def compile_project(result: LoadResult, diagnostics: list[Any] | None = None) -> Project:
    """Compiles a load result; raises DocumentError when any error-level diagnostic exists."""
    problems = [d for d in (diagnostics if diagnostics is not None else result.diagnostics)
                if d.severity == "error"]
    if problems:
        raise DocumentError(problems)
    connections = {
        d.spec.name: compile_connection(d.spec, d.source.file)
        for d in result.documents if isinstance(d.spec, ConnectionSpec)
    }
    recipes = {
        d.spec.name: compile_recipe(d.spec)
        for d in result.documents if isinstance(d.spec, RecipeSpec)
    }
    sources = {d.spec.name: d.source.file for d in result.documents if isinstance(d.spec, RecipeSpec)}
    return Project(connections, recipes, sources)
