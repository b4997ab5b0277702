"""Reads files and folders into validated specs, turning every problem into a located Diagnostic."""

from __future__ import annotations

import copy
import difflib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from runner.errors import Diagnostic, Location
from runner.recipe.models import ConnectionSpec, DocumentSpec, RecipeSpec, Spec
from runner.recipe.rawcheck import raw_problems
from runner.recipe.yamlsource import SourceDocument, read_documents, yaml_text

YAML_SUFFIXES = (".yaml", ".yml")
DEFAULT_FOLDERS = ("connections", "recipes")
_ADAPTER: TypeAdapter[ConnectionSpec | RecipeSpec] = TypeAdapter(DocumentSpec)


class PathNotFound(Exception):
    """A path the user named does not exist."""


@dataclass
class Loaded:
    """One valid document: its spec and where it came from."""

    spec: ConnectionSpec | RecipeSpec
    source: SourceDocument


@dataclass
class LoadResult:
    """Everything read from a set of paths: valid documents and every problem found.

    `invalid_connections` holds a stand-in for each connection document that failed validation
    but has a name: its problems are already reported, and recipes that use it must not be told
    on top that the connection does not exist.
    """

    documents: list[Loaded] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    invalid_connections: list[Loaded] = field(default_factory=list)
    sources: list[SourceDocument] = field(default_factory=list)  # every document, valid or not
    # Documents refused only for unknown keys, validated again without them: never run, but
    # `lint` checks their references, so a typo'd key does not hide a wrong `steps.<id>`.
    repaired: list[Loaded] = field(default_factory=list)

    @property
    def connections(self) -> list[Loaded]:
        """Connections recipes may refer to; stand-ins come first, so a valid one wins a name."""
        valid = [d for d in self.documents if isinstance(d.spec, ConnectionSpec)]
        return self.invalid_connections + valid

    @property
    def recipes(self) -> list[Loaded]:
        return [d for d in self.documents if isinstance(d.spec, RecipeSpec)]


def find_files(paths: list[str] | None, cwd: str | None = None) -> list[Path]:
    """YAML files below `paths` (default `connections/` and `recipes/` of `cwd`, when they exist)."""
    base = Path(cwd or os.getcwd())
    if not paths:
        roots = [base / name for name in DEFAULT_FOLDERS if (base / name).is_dir()]
    else:
        roots = [Path(p) if Path(p).is_absolute() else base / p for p in paths]
        for given, root in zip(paths, roots):
            if not root.exists():
                raise PathNotFound(f"path '{given}' does not exist")
    found: list[Path] = []
    for root in roots:
        if root.is_file():
            found.append(root)
            continue
        found.extend(
            p for p in sorted(root.rglob("*"))
            if p.suffix in YAML_SUFFIXES and p.is_file() and not is_api_description(p)
        )
    unique: dict[Path, Path] = {}
    for path in found:  # a file named twice (in a folder and by name) is read once
        unique.setdefault(path.resolve(), path)
    return list(unique.values())


_API_KEY = re.compile(rb"^(?:openapi|swagger)\s*:", re.M)
_KIND_KEY = re.compile(rb"^kind\s*:", re.M)


def is_api_description(path: Path) -> bool:
    """An OpenAPI document kept beside the connections (`openapi: specs/api.yaml`): a folder's
    YAML file whose top level says `openapi:` and not `kind:` is the connection's, not ours.
    Only the file's start is read: such documents can be megabytes."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8192)
    except OSError:
        return False
    return bool(_API_KEY.search(head)) and not _KIND_KEY.search(head)


def display_path(path: Path, cwd: str | None = None) -> str:
    """The path as a user would type it: relative to the working directory when below it."""
    try:
        return str(path.resolve().relative_to(Path(cwd or os.getcwd()).resolve()))
    except ValueError:
        return str(path)


def load_paths(paths: list[str] | None, cwd: str | None = None) -> LoadResult:
    """Reads and validates every document below `paths`; raises PathNotFound for a missing path."""
    result = LoadResult()
    for file in find_files(paths, cwd):
        name = display_path(file, cwd)
        result.files.append(name)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            result.diagnostics.append(
                Diagnostic("unreadable-file", f"cannot read file: {exc}", Location(name))
            )
            continue
        load_text(text, name, result)
    return result


def load_text(text: str, file: str, result: LoadResult | None = None) -> LoadResult:
    """Reads the documents of one YAML text into `result`."""
    result = result if result is not None else LoadResult()
    for item in read_documents(text, file):
        if isinstance(item, Diagnostic):
            result.diagnostics.append(item)
            continue
        result.sources.append(item)
        spec, problems = validate_document(item)
        result.diagnostics.extend(problems)
        if spec is not None:
            result.documents.append(Loaded(spec, item))
            continue
        result.diagnostics.extend(raw_problems(item))  # what the schema errors would hide
        if (stand_in := _connection_stand_in(item.data)) is not None:
            result.invalid_connections.append(Loaded(stand_in, item))
        if (repaired := _without_unknown_keys(item, problems)) is not None:
            result.repaired.append(repaired)
    return result


def _without_unknown_keys(doc: SourceDocument, problems: list[Diagnostic]) -> Loaded | None:
    """The document validated again without its unknown keys, when those were all that was
    wrong with it (the common typo: `descripton:`); None otherwise."""
    if not problems or any(p.code != "unknown-field" or p.path is None for p in problems):
        return None
    data = copy.deepcopy(doc.data)
    for problem in problems:
        assert problem.path is not None
        parent = _value_at(data, problem.path[:-1])
        if isinstance(parent, dict):
            parent.pop(problem.path[-1], None)
    try:
        spec = _ADAPTER.validate_python(data, context={})
    except ValidationError:
        return None
    return Loaded(spec, doc)


def _connection_stand_in(data: Any) -> ConnectionSpec | None:
    """What is known of an invalid connection document, for resolving references to it by name.

    Built without validation: it holds the name and, when the document wrote one, a `base_url`
    (any text, so that a base_url already reported as invalid is not reported missing again).
    """
    if not isinstance(data, dict) or data.get("kind") != "connection":
        return None
    name = data.get("name")
    if not isinstance(name, str):
        return None
    base_url = data.get("base_url")
    if "base_url" in data and not isinstance(base_url, str):
        base_url = ""
    return ConnectionSpec.model_construct(kind="connection", name=name, base_url=base_url)


def validate_document(doc: SourceDocument) -> tuple[ConnectionSpec | RecipeSpec | None, list[Diagnostic]]:
    """Validates one document against the models; problems come back located."""
    data = doc.data
    if not isinstance(data, dict):
        return None, [Diagnostic("not-a-document", _not_a_document(data), doc.locate(()))]
    kind = data.get("kind")
    if kind not in ("connection", "recipe"):
        message = (
            "missing key 'kind': every document starts with kind: connection or kind: recipe"
            if kind is None
            else f"unknown kind '{kind}'; expected connection or recipe"
        )
        return None, [Diagnostic("unknown-kind", message, doc.locate(("kind",)))]
    context: dict[str, Any] = {}
    try:
        return _ADAPTER.validate_python(data, context=context), []
    except ValidationError as exc:
        return None, _merge_type_errors(doc, exc.errors(), context)


def _merge_type_errors(
    doc: SourceDocument, errors: list[Any], context: dict[str, Any]
) -> list[Diagnostic]:
    """One message per value: a value a union refuses (`for_each: 3`, a list or a string) gets
    pydantic's error from each branch; those become "expected a list or a string, got ..."."""
    merged: dict[tuple[str | int, ...], list[Any]] = {}
    diagnostics: list[Diagnostic] = []
    for error in errors:
        if error["type"] in _TYPE_WORDS:
            merged.setdefault(_data_path(doc.data, tuple(error["loc"])), []).append(error)
        else:
            diagnostics.append(_diagnostic(doc, error, context))
    for path, group in merged.items():
        if len(group) == 1:
            diagnostics.append(_diagnostic(doc, group[0], context))
            continue
        wanted = list(dict.fromkeys(_TYPE_WORDS[e["type"]].removeprefix("expected ") for e in group))
        message = f"expected {' or '.join(wanted)}, got {_type_name(group[0].get('input'))}"
        diagnostics.append(Diagnostic("invalid-value", f"{_where(path)}: {message}",
                                      doc.locate(path)))
    return sorted(diagnostics, key=Diagnostic.sort_key)


def _not_a_document(data: Any) -> str:
    return f"a document must be a mapping with kind: connection or kind: recipe, not {_type_name(data)}"


def _diagnostic(doc: SourceDocument, error: Any, context: dict[str, Any]) -> Diagnostic:
    path = _data_path(doc.data, tuple(error["loc"]))
    kind = error["type"]
    if kind == "extra_forbidden":
        parent = _value_at(doc.data, path[:-1])
        model = context.get("models", {}).get(id(parent))
        return Diagnostic(
            "unknown-field", _unknown_key(path, model), doc.locate(path, key=True), path=path
        )
    if kind == "missing":
        return Diagnostic(
            "missing-field",
            f"missing required key '{path[-1]}' in {_where(path[:-1])}",
            doc.locate(path[:-1]),
        )
    code = "invalid-value"
    return Diagnostic(code, f"{_where(path)}: {_reword(error)}", doc.locate(path))


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[str | int, ...]:
    """Pydantic's error location without the union/discriminator tags it adds."""
    path: list[str | int] = []
    current = data
    tagged: set[int] = set()  # mappings whose discriminator tag was met already
    for part in loc:
        if (isinstance(current, dict) and current.get("type") == part and id(current) not in tagged
                and part != loc[-1]):
            # The tag of a union chosen by `type` comes first, even when the mapping also has
            # a key of that name (webhook auth `type: header` has a `header` key).
            tagged.add(id(current))
            continue
        if isinstance(current, dict) and part in current:
            path.append(part)
            current = current[part]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            path.append(part)
            current = current[part]
        elif isinstance(current, dict) and part == loc[-1] and isinstance(part, str) and "[" not in part:
            path.append(part)  # a key that is missing or unknown: it is the last element
            current = None
        # anything else is a union member or tag name: skip it
    return tuple(path)


def _value_at(data: Any, path: tuple[str | int, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _where(path: tuple[str | int, ...]) -> str:
    if not path:
        return "the document"
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _unknown_key(path: tuple[str | int, ...], model: type[Spec] | None) -> str:
    key = str(path[-1])
    message = f"unknown key '{key}' in {_where(path[:-1])}"
    if model is None:
        return message
    allowed = model.keys()
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        message += f" (did you mean '{close[0]}'?)"
    return message + f"; expected one of: {', '.join(allowed)}"


_TYPE_WORDS = {
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "list_type": "expected a list",
    "string_type": "expected a string",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
}


def _reword(error: Any) -> str:
    kind, value = error["type"], error.get("input")
    if kind in _TYPE_WORDS:
        return f"{_TYPE_WORDS[kind]}, got {_type_name(value)}"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{yaml_text(value)} is not allowed; expected {expected.replace(' or ', ', ')}"
    if kind == "union_tag_invalid":
        ctx = error.get("ctx", {})
        key = str(ctx.get("discriminator", "'type'")).strip("'")
        # ctx["tag"] is Python's str() of the value ('None', 'True'): show the value itself.
        tag = value.get(key) if isinstance(value, dict) else ctx.get("tag")
        shown = tag if isinstance(tag, str) else yaml_text(tag)
        expected = str(ctx.get("expected_tags", "")).replace("'", "")
        return f"{key} {shown} is not one of: {expected}"
    if kind == "union_tag_not_found":
        return "missing key 'type'"
    if kind in ("greater_than_equal", "less_than_equal", "too_short", "too_long"):
        return _bound(kind, error.get("ctx", {}), value)
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    return str(error["msg"])


def _bound(kind: str, ctx: dict[str, Any], value: Any) -> str:
    if kind == "greater_than_equal":
        return f"must be at least {ctx.get('ge')}, got {yaml_text(value)}"
    if kind == "less_than_equal":
        return f"must be at most {ctx.get('le')}, got {yaml_text(value)}"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s)"
    return f"must have at most {ctx.get('max_length')} item(s)"


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        return f"a string ('{value[:40]}')"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
