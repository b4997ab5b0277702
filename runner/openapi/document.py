"""One OpenAPI document, read once per process and once per content on disk, with its problems.

`load_document` never raises: a file that is missing, too large, not JSON/YAML, not OpenAPI
3.0/3.1, or whose `$ref`s cannot be resolved offline comes back with located Diagnostics
(`specs/api.yaml:12:7: paths./venues/.post: 'responses' is a required property`) and no
operations to check against. Files that `$ref`s name (`schemas/venue.yaml#/Venue`) are read the
same way, without the meta-schema (they are fragments), and their problems are their own.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urlsplit

from runner.errors import Diagnostic, Location
from runner.openapi import cache
from runner.openapi.parse import ParseError, is_json, parse_bytes, read_bytes
from runner.openapi.positions import Positions, pointer_text
from runner.openapi.validity import ref_sites, schema_problems, version_of

_CODE = "openapi-invalid"


@dataclass
class ApiDocument:
    """A document's values (None when unreadable), its OpenAPI version and every problem."""

    path: Path  # absolute
    shown: str  # as locations name it (relative to the working directory)
    data: Any
    version: str | None
    problems: list[Diagnostic] = field(default_factory=list)
    files: tuple[Path, ...] = ()  # the other files its `$ref`s reach
    external: list[tuple[tuple[str | int, ...], str]] = field(default_factory=list)
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def usable(self) -> bool:
        """True when steps can be checked against it: read, OpenAPI, and without errors."""
        return self.data is not None and self.version is not None and not self.problems

    @property
    def uri(self) -> str:
        return self.path.as_uri()


_LOADED: dict[tuple[Path, bool], tuple[tuple[int, int], ApiDocument]] = {}


def load_document(path: Path, shown: str, fragment: bool = False) -> ApiDocument:
    """The document at `path` (a fragment: a file a `$ref` names) with every problem, its
    own and those of the `$ref`s to other files (checked again each time: they may change)."""
    base = read_document(path, shown, fragment)
    seen = {base.path}
    external = _external_ref_problems(base, seen)
    return ApiDocument(base.path, base.shown, base.data, base.version, base.problems + external,
                       tuple(sorted(seen - {base.path})), base.external)


def read_document(path: Path, shown: str, fragment: bool = False) -> ApiDocument:
    """One file, parsed and checked on its own, from memory while its stamp is unchanged."""
    try:
        path = path.resolve()
        stat = path.stat()
        stamp = (stat.st_mtime_ns, stat.st_size)
    except (OSError, ValueError):
        stamp = (0, -1)
    known = _LOADED.get((path, fragment))
    if known is not None and known[0] == stamp:
        return known[1]
    document = _read(path, shown, fragment)
    _LOADED[(path, fragment)] = (stamp, document)
    return document


def _read(path: Path, shown: str, fragment: bool) -> ApiDocument:
    try:
        raw = read_bytes(path)
    except ParseError as exc:
        return ApiDocument(path, shown, None, None, [_problem(shown, exc.message, 1, 1)])
    key = cache.key_of(raw) + ("-fragment" if fragment else "")
    entry = cache.read(key)
    if entry is None:
        entry = _check(path, raw, fragment)
        data = entry.data
        kept = None if is_json(path, raw) else data  # JSON: parsing again beats unpickling
        cache.write(key, cache.Entry(kept, entry.version, entry.problems, entry.external))
    else:
        data = entry.data
        if data is None and entry.version is not None:
            data = parse_bytes(path, raw)
    # A large document is millions of objects that live as long as the process: moved out of
    # the cyclic collector's sight, they are not traversed again at every full collection.
    gc.freeze()
    problems = [_problem(shown, message, line, column)
                for pointer, message, line, column in entry.problems]
    return ApiDocument(path, shown, data, entry.version, problems, external=entry.external)


def _check(path: Path, raw: bytes, fragment: bool) -> cache.Entry:
    """Parses and checks one file; the entry holds what is kept on disk."""
    try:
        data = parse_bytes(path, raw)
    except ParseError as exc:
        return cache.Entry(None, None, [((), exc.message, exc.line, exc.column)])
    if fragment:
        version: str | None = "fragment"
        found: list[tuple[tuple[str | int, ...], str]] = []
    else:
        version, found = version_of(data)
        if version is not None:
            found = schema_problems(data, version)
    local, external = _local_ref_problems(data)
    found += local
    if not found:
        return cache.Entry(data, version, [], external)
    positions = Positions(raw.decode("utf-8", errors="replace"))
    located = []
    for pointer, message in found:
        line, column = positions.find(pointer)
        located.append((pointer, f"{pointer_text(pointer)}: {message}", line, column))
    return cache.Entry(data, version, located, external)


def _local_ref_problems(data: Any) -> tuple[list[tuple[tuple[str | int, ...], str]],
                                            list[tuple[tuple[str | int, ...], str]]]:
    """`$ref`s that can never resolve offline (URLs, pointers into this file that miss), and
    the `$ref`s to other files."""
    problems = []
    external = []
    for pointer, ref in ref_sites(data):
        at = pointer + ("$ref",)
        target, fragment_part = urldefrag(ref)
        if target and not urlsplit(target).scheme:
            external.append((pointer, ref))
        elif urlsplit(target).scheme:
            problems.append((at, (f"$ref {ref!r} is a URL: validate never fetches anything; "
                                 "save the file beside the document and refer to it by a "
                                 "relative path")))
        elif not target and resolve_pointer(data, fragment_part) is _MISSING:
            problems.append((at, f"$ref {ref!r} points at nothing in this document"))
    return problems, external


def _external_ref_problems(document: ApiDocument, seen: set[Path],
                           checked: set[Path] | None = None) -> list[Diagnostic]:
    """`$ref`s to other files: the file must exist and hold what the pointer names; each file
    reached is added to `seen` and its own problems are reported once."""
    checked = set() if checked is None else checked
    problems: list[Diagnostic] = []
    positions: Positions | None = None
    for pointer, ref in document.external if document.data is not None else ():
        target, fragment_part = urldefrag(ref)
        other_path = _path_of(document.path.parent, target)
        other = None if other_path is None else read_document(
            other_path, _shown(other_path), fragment=True)
        if other_path is None or other is None:
            reason = f"$ref {ref!r}: {target!r} is not a file name"
        elif other.data is None:
            reason = f"$ref {ref!r}: {target} cannot be read"
        else:
            seen.add(other_path)
            if other_path not in checked:
                checked.add(other_path)
                problems += other.problems + _external_ref_problems(other, seen, checked)
            if resolve_pointer(other.data, fragment_part) is not _MISSING:
                continue
            reason = f"$ref {ref!r} points at nothing in {target}"
        if positions is None:
            positions = Positions(document.path.read_text(encoding="utf-8", errors="replace"))
        line, column = positions.find(pointer + ("$ref",))
        problems.append(_problem(document.shown, f"{pointer_text(pointer + ('$ref',))}: "
                                                  f"{reason}", line, column))
    return problems


def _path_of(folder: Path, target: str) -> Path | None:
    """The file a relative `$ref` names; None for a name no file can have (a NUL in it)."""
    try:
        return (folder / unquote(target)).resolve()
    except (OSError, ValueError):
        return None


_MISSING: Any = object()


def resolve_pointer(data: Any, fragment: str) -> Any:
    """The value a JSON pointer fragment (`/components/schemas/A`) names, or `_MISSING`."""
    current = data
    if not fragment:
        return current
    if not fragment.startswith("/"):
        return _MISSING  # a plain-name anchor: not used by OpenAPI documents
    for part in fragment[1:].split("/"):
        part = unquote(part).replace("~1", "/").replace("~0", "~")
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return _MISSING
    return current


def is_missing(value: Any) -> bool:
    return value is _MISSING


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path(os.getcwd()).resolve()))
    except ValueError:
        return str(path)


def _problem(shown: str, message: str, line: int, column: int) -> Diagnostic:
    return Diagnostic(_CODE, message, Location(shown, line, column))
