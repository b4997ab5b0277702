"""The OpenAPI documents the loaded connections name, read once, and who may be checked.

A connection's `openapi:` is a path relative to the connection's own file. A file that is not
there is an error at that value; a document's own problems are errors at their place in the
document, reported once however many connections share it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from runner.errors import Diagnostic
from runner.openapi.document import ApiDocument, load_document
from runner.openapi.operations import Index, Operation, base_path, url_path
from runner.openapi.refs import Refs, Where
from runner.recipe.loader import LoadResult
from runner.recipe.models import ConnectionSpec, StepSpec


@dataclass
class Api:
    """One connection's document, with its `$ref` resolver and operations built on first use."""

    connection: ConnectionSpec
    name: str  # as the connection writes it: `specs/eventbrite.yaml`
    document: ApiDocument
    views: dict[Any, Any] = field(default_factory=dict)  # response views by (op, expect)
    params: dict[str, list[tuple[dict[str, Any], Where]]] = field(default_factory=dict)

    @cached_property
    def refs(self) -> Refs:
        return Refs(self.document, self.name)

    @cached_property
    def index(self) -> Index:
        return Index(self.document.data)

    def matching(self, url: str) -> tuple[str, list[Operation]] | None:
        """The path a step's URL requests and the operations of that path (best first); None
        when a template stands for the host or the whole URL."""
        path = url_path(self.connection.base_url, url)
        if path is None:
            return None
        return path, self.index.matching(path, base_path(self.connection.base_url))

    def parameters(self, op: Operation) -> list[tuple[dict[str, Any], Where]]:
        """The operation's parameters, the path item's too (the operation's win), resolved."""
        if op.label not in self.params:
            self.params[op.label] = list(self._parameters(op))
        return self.params[op.label]

    def _parameters(self, op: Operation) -> Iterator[tuple[dict[str, Any], Where]]:
        seen: set[tuple[str, str]] = set()
        for owner, pointer in ((op.node, op.pointer), (op.path_item, op.pointer[:2])):
            listed = owner.get("parameters")
            if not isinstance(listed, list):
                continue
            for i, entry in enumerate(listed):
                param, where = self.refs.follow(
                    entry, Where(self.document.uri, pointer + ("parameters", i)))
                if not isinstance(param, dict):
                    continue
                identity = (str(param.get("in")), str(param.get("name")).lower())
                if identity not in seen:
                    seen.add(identity)
                    yield param, where


@dataclass
class Apis:
    """Every connection's API by connection name, and the problems of reading them."""

    by_connection: dict[str, Api] = field(default_factory=dict)
    problems: list[Diagnostic] = field(default_factory=list)
    files: set[Path] = field(default_factory=set)  # every file of every document, resolved

    def for_step(self, step: StepSpec) -> Api | None:
        """The API a step is checked against: its connection's, when usable and not opted out."""
        if not step.openapi or step.request.connection is None:
            return None
        api = self.by_connection.get(step.request.connection)
        return api if api is not None and api.document.usable else None


def not_ours(diagnostics: list[Diagnostic], apis: Apis) -> list[Diagnostic]:
    """`diagnostics` without the loader's "not a runner document" about the files of API
    descriptions (a `$ref`'d `schemas/venue.yaml` in a folder validate reads is the API's)."""
    if not apis.files:
        return diagnostics
    return [d for d in diagnostics if d.code not in ("unknown-kind", "not-a-document")
            or Path(d.location.file).resolve() not in apis.files]


def load_apis(result: LoadResult) -> Apis:
    """Reads the document of every valid connection that names one."""
    apis = Apis()
    reported: set[Path] = set()
    for loaded in result.connections:
        spec = loaded.spec
        if not isinstance(spec, ConnectionSpec) or not spec.openapi:
            continue
        written = spec.openapi
        path = Path(loaded.source.file).parent / written
        shown = os.path.normpath(str(path))
        if not path.is_file():
            apis.problems.append(Diagnostic(
                "openapi-missing", f"openapi: {written} is not a file (looked for {shown})",
                loaded.source.locate(("openapi",))))
            continue
        document = load_document(path, shown)
        apis.files |= {document.path, *document.files}
        apis.by_connection.setdefault(spec.name, Api(spec, written, document))
        if document.path not in reported:
            reported.add(document.path)
            apis.problems += document.problems
    return apis
