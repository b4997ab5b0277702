"""`$ref` resolution for one API: the document, the local files it names, never the network.

`referencing` does the resolving (base URIs, JSON pointers, files read on demand through
`retrieve`), the same registry `jsonschema` validates with, so a value check and a datapill
walk can never disagree on what a `$ref` means. `Where` keeps the words a message names a
schema by: `specs/eventbrite.yaml#/components/schemas/Address`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.request import url2pathname

from referencing import Registry, Resource, Specification
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT4, DRAFT202012

from runner.openapi.document import ApiDocument, read_document
from runner.openapi.positions import fragment

#: `$ref`s followed in a row before giving up (a loop of refs to refs).
MAX_HOPS = 32


@dataclass(frozen=True)
class Where:
    """A place in the API's files: the file's URI and the JSON pointer inside it."""

    uri: str
    pointer: tuple[str | int, ...] = ()

    def __truediv__(self, part: str | int) -> Where:
        return Where(self.uri, self.pointer + (part,))


class Refs:
    """Resolves `$ref`s of one document; `name` is how messages name it (as the connection
    wrote it), and other files are named relative to the same folder."""

    def __init__(self, document: ApiDocument, name: str) -> None:
        self.document = document
        self.name = name
        self.spec: Specification[Any] = DRAFT4 if document.version == "3.0" else DRAFT202012
        resource: Resource[Any] = self.spec.create_resource(document.data)
        self.registry: Registry[Any] = Registry(retrieve=self._retrieve).with_resource(  # type: ignore[call-arg]
            document.uri, resource)
        self._base = Path(document.path).parent
        self._named_base = os.path.dirname(name)
        self.validators: dict[Where, Any] = {}  # see runner.openapi.values_check

    @property
    def root(self) -> Where:
        return Where(self.document.uri)

    def _retrieve(self, uri: str) -> Resource[Any]:
        parts = urlsplit(uri)
        if parts.scheme != "file":
            raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # validate never fetches
        try:
            path = Path(url2pathname(parts.path))
            other = read_document(path, str(path), fragment=True)
        except (OSError, ValueError) as exc:
            raise NoSuchResource(ref=uri) from exc  # type: ignore[call-arg]
        if other.data is None:
            raise NoSuchResource(ref=uri)  # type: ignore[call-arg]
        return self.spec.create_resource(other.data)

    def at(self, where: Where) -> Any:
        """The value at `where` (None when nothing is there)."""
        try:
            resolved = self.registry.resolver(where.uri).lookup(fragment(where.pointer))
        except (Unresolvable, NoSuchResource, OSError):
            return None
        return resolved.contents

    def follow(self, node: Any, where: Where) -> tuple[Any, Where]:
        """`node` with its `$ref`s followed to the value they name, and where that is."""
        for _ in range(MAX_HOPS):
            if not isinstance(node, dict) or not isinstance(node.get("$ref"), str):
                return node, where
            target = self.target(node["$ref"], where)
            if target is None:
                return None, where
            node, where = self.at(target), target
        return None, where

    def target(self, ref: str, where: Where) -> Where | None:
        """Where a `$ref` written at `where` points."""
        absolute, part = urldefrag(urljoin(where.uri, ref))
        if urlsplit(absolute).scheme != "file":
            return None
        pointer: list[str | int] = []
        for piece in part[1:].split("/") if part.startswith("/") else []:
            pointer.append(piece.replace("~1", "/").replace("~0", "~"))
        return Where(absolute, tuple(pointer))

    def text(self, where: Where) -> str:
        """`specs/eventbrite.yaml#/components/schemas/Address`."""
        return self.file_name(where.uri) + fragment(where.pointer)

    def file_name(self, uri: str) -> str:
        if uri == self.document.uri:
            return self.name
        path = Path(url2pathname(urlsplit(uri).path))
        try:
            return os.path.join(self._named_base, os.path.relpath(path, self._base))
        except ValueError:
            return str(path)
