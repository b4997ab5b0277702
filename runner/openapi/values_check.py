"""A step's literal values against the operation's schemas, in the schema's own words.

Each value is validated by `jsonschema` (through `openapi-schema-validator`, which knows 3.0's
`nullable` and 3.1's dialect), with the document's `$ref` registry; each error becomes a message
that names the value's path, the keyword and the schema it is in:
`venue.address.country: 'USA' is longer than 2 characters (maxLength 2 in
specs/eventbrite.yaml#/components/schemas/Address)`. The schema named is the last one a `$ref`
led to (what a reader finds in the document), else the exact place of the keyword.

A templated value is replaced by a stand-in of its type when the type is known (a `vars`
constant, text around a `{{ }}`, a datapill whose sample or schema says its type), and only its
type is checked; a stand-in of unknown type is checked not at all.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema.exceptions import ValidationError, best_match
from openapi_schema_validator import OAS30Validator, OAS31Validator

from runner.openapi.positions import fragment
from runner.openapi.refs import Refs, Where
from runner.recipe.yamlsource import yaml_text
from runner.samples.values import type_name
from runner.samples.walk import path_text

Path = tuple[str | int, ...]

_UNKNOWN: Any = type("Unknown", (), {"__repr__": lambda self: "<template>"})()
_STAND_INS = {"string": "", "integer": 0, "number": 0.5, "boolean": False, "null": None}
# Keywords that judge a value as a whole: with a stand-in inside, their verdict means nothing.
_WHOLE = {"oneOf", "anyOf", "not", "uniqueItems", "contains", "if", "then", "else", "enum",
          "const", "dependentSchemas"}
_ENUM_SHOWN = 8


@dataclass(frozen=True)
class Problem:
    """One value that the schema refuses: the path below the checked value and the words."""

    path: Path
    message: str
    at_key: bool = False  # located at the key (an unknown property) rather than the value


@dataclass(frozen=True)
class Templated:
    """A template in the checked value: its source and its type when known (else None)."""

    source: str
    type_name: str | None
    value: Any = _UNKNOWN  # the value itself when it is a constant (`vars.x`)


def check_value(refs: Refs, schema: Any, where: Where, value: Any,
                templated: dict[Path, Templated], label: str) -> Iterator[Problem]:
    """The problems of `value` (templates already replaced: see `stand_in`) against `schema`.
    `label` starts each message's path (`venue`, `query parameter per_page`)."""
    validator = _validator(refs, where)
    try:
        errors = list(validator.iter_errors(value))
    except Exception:  # noqa: BLE001 -- an odd schema must not end validate; nothing is claimed
        return
    for error in errors:
        try:
            found = list(_problems(refs, schema, where, error, templated, label))
        except Exception:  # noqa: BLE001, S112 -- a keyword with a nonsense value: nothing claimed
            continue
        yield from found


def _validator(refs: Refs, where: Where) -> Any:
    """One validator per schema place, shared by every value checked against it."""
    validator = refs.validators.get(where)
    if validator is None:
        validator_class = OAS30Validator if refs.document.version == "3.0" else OAS31Validator
        root = {"$ref": where.uri + fragment(where.pointer)}
        validator = refs.validators[where] = validator_class(root, registry=refs.registry)
    return validator


def _problems(refs: Refs, schema: Any, where: Where, error: ValidationError,
              templated: dict[Path, Templated], label: str) -> Iterator[Problem]:
    narrowed = _narrowed(error, templated)
    if narrowed is None:
        return
    error = narrowed
    path = tuple(error.absolute_path)
    stand_in = templated.get(path)
    if stand_in is not None and (error.validator != "type" or stand_in.type_name is None):
        return
    if any(p[:len(path)] == path and len(p) > len(path) for p in templated) and \
            error.validator in _WHOLE:
        return
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list((error.schema or {}).get("properties") or ())
        for key in error.instance:  # one problem per key, each at its own place
            if key not in allowed and not (isinstance(key, str) and "{{" in key):
                yield _problem(refs, schema, where, error, label, path, stand_in, key)
        return
    yield _problem(refs, schema, where, error, label, path, stand_in)


def _problem(refs: Refs, schema: Any, where: Where, error: ValidationError, label: str,
             path: Path, stand_in: Templated | None, key: Any = None) -> Problem:
    keyword_where = _keyword_where(refs, schema, where, list(error.absolute_schema_path))
    short = _short(error.validator_value) if error.validator == "type" or not isinstance(
        error.validator_value, (str, list)) else ""
    named = f"{error.validator}{' ' + short if short else ''} in {refs.text(keyword_where)}"
    shown = path_text(label, path) if label else (path_text("", path).lstrip(".") or "the body")
    text, at_key, path = _words(error, stand_in, path, key)
    if at_key or error.validator == "additionalProperties":
        shown = path_text(label, path[:-1]) if label else (
            path_text("", path[:-1]).lstrip(".") or "the body")
    return Problem(path, f"{shown}: {text} ({named})", at_key)


def _narrowed(error: ValidationError, templated: dict[Path, Templated]) -> ValidationError | None:
    """A oneOf/anyOf error as its best-fitting branch's error, unless a template is inside."""
    while error.validator in ("oneOf", "anyOf") and error.context:
        path = tuple(error.absolute_path)
        if any(p[:len(path)] == path for p in templated):
            return None
        error = best_match(error.context)
    return error


def _keyword_where(refs: Refs, node: Any, where: Where, schema_path: list[Any]) -> Where:
    """The schema the failing keyword is in: the last `$ref` target on the way, else the place.
    jsonschema's paths step through a `$ref` without naming it (draft 4: the `$ref` replaces
    its siblings) or name it (2020-12): both are followed here."""
    named: Where | None = None
    draft4 = refs.document.version == "3.0"
    if not draft4 and schema_path[:1] == ["$ref"]:
        schema_path = schema_path[1:]  # the root's own `$ref` to `where`
    for part in schema_path[:-1]:  # [-1] is the keyword
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and (
                draft4 or part == "$ref" or part not in node):
            target = refs.target(node["$ref"], where)
            if target is None:
                return named or where
            node, where, named = refs.at(target), target, target
            if part == "$ref":
                break
        if part == "$ref":
            continue
        if isinstance(node, dict) and part in node or isinstance(node, list) and isinstance(part, int) and part < len(node):
            node, where = node[part], where / part
        else:
            break
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and draft4:
        target = refs.target(node["$ref"], where)  # the keyword sits in the $ref's target
        if target is None:
            break
        node, where, named = refs.at(target), target, target
    return named or where


def _words(error: ValidationError, stand_in: Templated | None, path: Path,
           key: Any = None) -> tuple[str, bool, Path]:
    """What is wrong, as a sentence about the value; with the path it is about."""
    v, value = error.validator_value, error.instance
    shown = f"{stand_in.source!r} gives {_a(stand_in.type_name or '')}" if stand_in else \
        yaml_text(value)
    kind = error.validator
    if kind == "type":
        wanted = " or ".join(v) if isinstance(v, list) else str(v)
        if stand_in is None:
            shown = f"{shown} is {_a(type_name(value))}"
        return f"{shown}, not {_a(wanted)}", False, path
    if kind == "maxLength":
        return f"{shown} is longer than {v} character{'s' * (v != 1)}", False, path
    if kind == "minLength":
        return f"{shown} is shorter than {v} character{'s' * (v != 1)}", False, path
    if kind == "pattern":
        return f"{shown} does not match the pattern {v!r}", False, path
    if kind == "enum" and isinstance(v, list):
        options = ", ".join(yaml_text(o) for o in v[:_ENUM_SHOWN]) + (", ..." if len(v) > _ENUM_SHOWN else "")
        return f"{shown} is not one of {options}", False, path
    if kind in ("minimum", "exclusiveMinimum"):
        return f"{shown} is less than {'or equal to ' * (kind != 'minimum')}{v}", False, path
    if kind in ("maximum", "exclusiveMaximum"):
        return f"{shown} is greater than {'or equal to ' * (kind != 'maximum')}{v}", False, path
    if kind == "required" and isinstance(value, dict) and isinstance(v, list):
        missing = [name for name in v if name not in value]
        names = ", ".join(repr(m) for m in missing)
        return f"{names} {'is' if len(missing) == 1 else 'are'} required but missing", False, path
    if kind == "additionalProperties" and isinstance(value, dict):
        allowed = list((error.schema or {}).get("properties") or ())
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = f"; it allows: {', '.join(allowed[:20])}" if allowed else ""
        return f"{key!r} is not a property it allows{hint}{known}", True, path + (key,)
    if kind in ("minItems", "maxItems") and isinstance(value, list):
        return (f"has {len(value)} item{'s' * (len(value) != 1)}, "
                f"{'fewer' if kind == 'minItems' else 'more'} than {v}"), False, path
    return error.message, False, path


def _a(word: str) -> str:
    if word in ("null",) or " or " in word:
        return word
    return ("an " if word[:1] in "aeiou" else "a ") + word


def _short(value: Any) -> str:
    """The keyword's value when it is short enough to say (`maxLength 2`, `type integer`)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str) and len(value) <= 20 and " " not in value:
        return value if value.isalnum() else ""
    if isinstance(value, list) and all(isinstance(v, str) for v in value) and len(value) <= 3 \
            and not any(" " in v for v in value):
        return "[" + ", ".join(value) + "]" if len(value) > 1 else (value[0] if value else "")
    return ""


def stand_in(value: Any, typed: Any, path: Path = ()) -> tuple[Any, dict[Path, Templated]]:
    """`value` with each template string replaced by a stand-in of its type: `typed(source)`
    answers a `Templated` (or None: not a template)."""
    found: dict[Path, Templated] = {}

    def walk(item: Any, at: Path) -> Any:
        if isinstance(item, dict):
            return {k: walk(v, at + (k,)) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v, at + (i,)) for i, v in enumerate(item)]
        if isinstance(item, str):
            templ = typed(item)
            if templ is not None:
                if templ.value is not _UNKNOWN:
                    return templ.value
                found[at] = templ
                return _STAND_INS.get(templ.type_name or "", _UNKNOWN)
        return item

    return walk(value, path), found


def coerce(value: Any, schema: Any) -> Any:
    """A query or header value as the schema reads it: on the wire every parameter is text, so
    `per_page: "30"` is the integer 30 and `"true"` a boolean when the schema says so."""
    if not isinstance(value, str) or not isinstance(schema, dict):
        return value
    kind = schema.get("type")
    try:
        if kind == "integer" and value.lstrip("-").isdigit():
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value
