"""Reading an OpenAPI 3.0/3.1 document: parsed, checked against the OpenAPI schema, its `$ref`s
resolved (within the file and to files beside it), each problem placed in the file.

Libraries: PyYAML (its C parser when installed) reads YAML and places problems; `jsonschema`
checks the document against the official OpenAPI JSON Schemas, which `openapi-spec-validator`
ships (its own validator takes 17 s on GitHub's 13 MB description, the schemas through
`jsonschema` about 5 s, so a 3.0 document is first checked by `fastjsonschema`, which compiles
the schema to Python and takes under 2 s, and `jsonschema` only explains a document that fails;
all of it once per document version: see `cache`); `$ref`s are JSON pointers resolved here, because a
document must never make validate fetch anything: a reference to `http(s)://` is a problem, not
a download.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from runner.openapi import cache as disk

MAX_BYTES = 64 * 1024 * 1024  # a document larger than this is refused, not read
MAX_PROBLEMS = 20  # of one document: the first ones say enough
Pointer = tuple[str | int, ...]

try:
    _YamlLoader: Any = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _YamlLoader = yaml.SafeLoader


@dataclass(frozen=True)
class Problem:
    """What is wrong with a document, at `pointer` (its own path) in `file`, line and column."""

    file: Path
    pointer: Pointer
    message: str
    line: int = 1
    column: int = 1

    @property
    def dotted(self) -> str:
        """The path as messages show it: `paths./venues/.post.requestBody`."""
        return ".".join(str(part) for part in self.pointer) or "(the document)"


class UnusableDocument(Exception):
    """The document cannot be read at all (missing, too big, not JSON or YAML, not OpenAPI)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass
class Document:
    """A parsed document and the files its `$ref`s reach, by absolute path."""

    path: Path
    data: dict[str, Any]
    problems: list[Problem] = field(default_factory=list)
    files: dict[Path, Any] = field(default_factory=dict)
    shown: str = ""  # as messages name it: `specs/eventbrite.yaml`, from the connection's folder
    operations_cache: Any = None  # runner.openapi.operations builds these once
    operations_by_length: Any = None
    registry: Any = None  # runner.openapi.values_check: the $ref registry of its validators

    def shown_of(self, file: Path) -> str:
        """A file of the document (or one its `$ref`s reach) as messages name it."""
        if file == self.path:
            return self.shown or file.name
        try:
            relative = file.relative_to(self.path.parent)
        except ValueError:
            return file.name
        return str(Path(self.shown or self.path.name).parent / relative)

    @property
    def version(self) -> str:
        return str(self.data.get("openapi", ""))

    def resolve(self, node: Any, file: Path | None = None, depth: int = 0
                ) -> tuple[Any, Path, str | None]:
        """`node` with its `$ref` followed (repeatedly): `(target, its file, its pointer as
        `#/components/schemas/X`, or None when `node` was no reference)`. A reference that does
        not resolve gives `({}, file, None)`: the document's problems already say so."""
        file = file or self.path
        pointer: str | None = None
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and depth < 50:
            found = self._target(node["$ref"], file)
            if found is None:
                return {}, file, None
            node, file, pointer = found
            depth += 1
        return node, file, pointer

    def _target(self, ref: str, file: Path) -> tuple[Any, Path, str] | None:
        where, _, fragment = ref.partition("#")
        if where.startswith(("http://", "https://", "//")):
            return None
        target_file = (file.parent / unquote(where)).resolve() if where else file
        root = self.data if target_file == self.path else self.files.get(target_file)
        if root is None:
            return None
        found = walk_pointer(root, fragment)
        return None if found is _MISSING else (found, target_file, f"#{fragment}")


_MISSING = object()


def pointer_parts(fragment: str) -> list[str]:
    """`/components/schemas/A~1B` -> ['components', 'schemas', 'A/B'] (RFC 6901)."""
    if not fragment:
        return []
    return [unquote(part).replace("~1", "/").replace("~0", "~")
            for part in fragment.lstrip("/").split("/")]


def walk_pointer(root: Any, fragment: str) -> Any:
    node = root
    for part in pointer_parts(fragment):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def load_document(path: Path) -> Document:
    """The document at `path`, its problems found (or read from the cache); UnusableDocument
    when it cannot be read as an OpenAPI document at all."""
    try:
        if path.stat().st_size > MAX_BYTES:
            raise UnusableDocument(Problem(path, (), f"the document is larger than "
                                           f"{MAX_BYTES // (1024 * 1024)} MiB: not read"))
        raw = path.read_bytes()
    except OSError as exc:
        raise UnusableDocument(Problem(path, (), f"cannot read the OpenAPI document: "
                                       f"{exc.strerror or exc}")) from None
    key = disk.content_key(raw)
    entry = disk.load_entry(key)
    if entry is not None and entry.get("unusable"):
        raise UnusableDocument(Problem(path, (), entry["unusable"][0], *entry["unusable"][1:]))
    data = entry["data"] if entry is not None and "data" in entry else _parse(path, raw, key)
    document = Document(path, data)
    _load_referenced_files(document, data, path)
    if entry is not None:
        document.problems = [Problem(path, tuple(p), m, line, col)
                             for p, m, line, col in entry["problems"]]
        return document
    document.problems = find_problems(document, raw)
    stored: dict[str, Any] = {"problems": [(list(p.pointer), p.message, p.line, p.column)
                                           for p in document.problems if p.file == path]}
    if not _looks_like_json(raw):
        stored["data"] = data  # YAML: the parse is the costly part
    disk.store_entry(key, stored)
    return document


def _looks_like_json(raw: bytes) -> bool:
    return raw.lstrip()[:1] == b"{"


def _parse(path: Path, raw: bytes, key: str) -> dict[str, Any]:
    text = raw.decode("utf-8", errors="replace")
    try:
        data = json.loads(text) if _looks_like_json(raw) else yaml.load(text, Loader=_YamlLoader)
    except json.JSONDecodeError as exc:
        _unusable(path, key, f"not valid JSON: {exc.msg}", exc.lineno, exc.colno)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        _unusable(path, key, f"not valid YAML: {getattr(exc, 'problem', None) or exc}", line,
                  column)
    if not isinstance(data, dict) or not isinstance(data.get("openapi"), str):
        _unusable(path, key, "not an OpenAPI document: it needs `openapi: 3.0.x` or `3.1.x` at "
                  "the top", 1, 1)
    version = str(data["openapi"])
    if not version.startswith(("3.0", "3.1")):
        _unusable(path, key, f"OpenAPI {version} is not supported: only 3.0 and 3.1 are", 1, 1)
    return data


def _unusable(path: Path, key: str, message: str, line: int, column: int) -> Any:
    disk.store_entry(key, {"unusable": (message, line, column)})
    raise UnusableDocument(Problem(path, (), message, line, column))


def _load_referenced_files(document: Document, data: Any, file: Path, depth: int = 0) -> None:
    """Loads the files beside the document that its `$ref`s name (and theirs, in turn)."""
    for ref in _refs(data):
        where = ref.partition("#")[0]
        if not where or where.startswith(("http://", "https://", "//")):
            continue
        target = (file.parent / unquote(where)).resolve()
        if target == document.path or target in document.files or depth > 10:
            continue
        try:
            raw = target.read_bytes()
            loaded = json.loads(raw) if _looks_like_json(raw) else yaml.load(
                raw.decode("utf-8", errors="replace"), Loader=_YamlLoader)
        except (OSError, ValueError, yaml.YAMLError):
            continue  # reported by find_problems as a reference that does not resolve
        document.files[target] = loaded
        _load_referenced_files(document, loaded, target, depth + 1)


def _refs(node: Any) -> list[str]:
    found: list[str] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            ref = current.get("$ref")
            if isinstance(ref, str):
                found.append(ref)
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return found


# -- problems ------------------------------------------------------------------------------------
@cache
def _meta_schema(version: str) -> dict[str, Any]:
    folder = "v3.1" if version.startswith("3.1") else "v3.0"
    text = (resources.files("openapi_spec_validator") / "resources" / "schemas" / folder /
            "schema.json").read_text("utf-8")
    return dict(json.loads(text))


@cache
def _meta_validator(version: str) -> Any:
    import jsonschema

    schema = _meta_schema(version)
    return jsonschema.validators.validator_for(schema)(schema)


@cache
def _fast_check(version: str) -> Any:
    """A compiled check of the 3.0 schema (draft 4); None for 3.1 (2020-12, not supported)."""
    if not version.startswith("3.0"):
        return None
    import fastjsonschema

    # use_default=False: by default it writes the schema's defaults into the checked document.
    return fastjsonschema.compile(_meta_schema(version), use_default=False)


def _passes_fast_check(document: Document) -> bool:
    import fastjsonschema

    check = _fast_check(document.version)
    if check is None:
        return False
    try:
        check(document.data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def find_problems(document: Document, raw: bytes) -> list[Problem]:
    problems = _schema_problems(document) + _ref_problems(document)
    problems = problems[:MAX_PROBLEMS]
    if problems:
        positions = _positions(raw, [p.pointer for p in problems])
        problems = [Problem(p.file, p.pointer, p.message, *positions.get(p.pointer, (1, 1)))
                    for p in problems]
    return problems


def _schema_problems(document: Document) -> list[Problem]:
    if _passes_fast_check(document):
        return []
    found = []
    for error in _meta_validator(document.version).iter_errors(document.data):
        while error.context:  # oneOf / anyOf: the branch that got deepest says why
            error = max(error.context, key=_depth)
        message = error.message if len(error.message) < 300 else error.message[:300] + "..."
        found.append(Problem(document.path, tuple(error.absolute_path),
                             f"not valid OpenAPI {document.version}: {message}"))
        if len(found) >= MAX_PROBLEMS:
            break
    return found


def _depth(error: Any) -> tuple[int, bool]:
    """How far into the document an error got; a "needs $ref" branch loses a tie (every schema
    may also be a reference, so that branch fails on anything)."""
    return len(error.absolute_path), error.validator_value != ["$ref"]


def _ref_problems(document: Document) -> list[Problem]:
    found = []
    stack: list[tuple[Any, Pointer]] = [(document.data, ())]
    while stack and len(found) < MAX_PROBLEMS:
        node, pointer = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                why = _broken_ref(document, ref)
                if why is not None:
                    found.append(Problem(document.path, (*pointer, "$ref"), why))
            stack.extend((value, (*pointer, key)) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend((value, (*pointer, index)) for index, value in enumerate(node))
    return sorted(found, key=lambda p: [str(part) for part in p.pointer])


def _broken_ref(document: Document, ref: str) -> str | None:
    where = ref.partition("#")[0]
    if where.startswith(("http://", "https://", "//")):
        return (f"$ref {ref!r} points at the network, which validate never uses: keep the "
                "document it names beside this one and refer to it by a relative path")
    if where and (document.path.parent / unquote(where)).resolve() not in document.files \
            and (document.path.parent / unquote(where)).resolve() != document.path:
        return f"$ref {ref!r}: there is no readable file {where} beside the document"
    if document._target(ref, document.path) is None:
        return f"$ref {ref!r} does not resolve: nothing is at that path"
    return None


def _positions(raw: bytes, wanted: list[Pointer]) -> dict[Pointer, tuple[int, int]]:
    """1-based line and column of each pointer's node (its nearest existing parent's), by
    composing the file as YAML (JSON is YAML) with node marks: only done for a document with
    problems, whose outcome the cache then keeps."""
    try:
        root = yaml.compose(raw.decode("utf-8", errors="replace"), Loader=_YamlLoader)
    except yaml.YAMLError:
        return {}
    found = {}
    for pointer in wanted:
        node = root
        for part in pointer:
            child = _child(node, part)
            if child is None:
                break
            node = child
        if node is not None:
            found[pointer] = (node.start_mark.line + 1, node.start_mark.column + 1)
    return found


def _child(node: Any, part: str | int) -> Any:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if str(key.value) == str(part):
                return key if part == "$ref" else value
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        return node.value[part]
    return None
