"""Is a parsed document valid OpenAPI 3.0/3.1? Problems as (JSON pointer, message) pairs.

The meta-schemas are the OpenAPI Initiative's own, as shipped in `openapi-spec-validator`. For
3.0 (draft 4) a `fastjsonschema`-compiled check answers "valid" in ~1.5 s on the 13 MB GitHub
description, where `jsonschema` takes ~6 s; only an invalid document pays for `jsonschema`,
whose errors carry the paths a user needs. Each error is narrowed to the branch that fits best
(`best_match`) so a oneOf of eight object types does not answer "is not valid under any".
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported when a document is checked, not when a cached one is read
    import jsonschema
    from jsonschema.exceptions import ValidationError

Problem = tuple[tuple[str | int, ...], str]

#: More than this many problems in one document are summed up in one last line.
MAX_PROBLEMS = 20


def version_of(data: Any) -> tuple[str | None, list[Problem]]:
    """"3.0" or "3.1" from the `openapi` field, or the problem that says why not."""
    if not isinstance(data, dict):
        return None, [((), "an OpenAPI document is a mapping with an 'openapi' field")]
    stated = data.get("openapi")
    if stated is None and "swagger" in data:
        return None, [(("swagger",), ("Swagger 2.0 is not supported: convert the document to "
                                     "OpenAPI 3.0 or 3.1"))]
    if not isinstance(stated, str):
        return None, [(("openapi",) if "openapi" in data else (),
                       "the document needs 'openapi: 3.0.x' or 'openapi: 3.1.x' (a string)")]
    for version in ("3.0", "3.1"):
        if stated == version or stated.startswith(version + "."):
            return version, []
    return None, [(("openapi",), f"OpenAPI {stated} is not supported: 3.0.x or 3.1.x")]


def schema_problems(data: Any, version: str) -> list[Problem]:
    """The document against its version's meta-schema; [] when it is valid."""
    import fastjsonschema

    if version == "3.0":
        try:
            _fast_check()(data)
            return []
        except fastjsonschema.JsonSchemaException:
            pass  # the details come from jsonschema below
    problems: list[Problem] = []
    for error in _validator(version).iter_errors(data):
        error = _narrowest(error)
        problems.append((tuple(error.absolute_path), _message(error)))
        if len(problems) > MAX_PROBLEMS:
            break
    problems.sort(key=lambda p: [str(part) for part in p[0]])
    return problems


def _narrowest(error: ValidationError) -> ValidationError:
    from jsonschema.exceptions import best_match

    while error.context:
        better = best_match(error.context)
        if better is None or better is error:
            break
        error = better
    return error


def _message(error: ValidationError) -> str:
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        return str(error.message).replace("Additional properties", "unknown fields")
    return str(error.message)


@functools.cache
def _meta_schema(version: str) -> dict[str, Any]:
    folder = resources.files("openapi_spec_validator") / "resources" / "schemas" / f"v{version}"
    loaded: dict[str, Any] = json.loads((folder / "schema.json").read_text(encoding="utf-8"))
    return loaded


@functools.cache
def _fast_check() -> Callable[[Any], Any]:
    import fastjsonschema

    # use_default=False: by default fastjsonschema writes the meta-schema's defaults into the
    # document it checks (`additionalProperties: true` into every schema object).
    return fastjsonschema.compile(_meta_schema("3.0"), use_default=False)  # type: ignore[no-any-return]


@functools.cache
def _validator(version: str) -> jsonschema.protocols.Validator:
    import jsonschema

    schema = _meta_schema(version)
    cls = jsonschema.Draft4Validator if version == "3.0" else jsonschema.Draft202012Validator
    return cls(schema)  # type: ignore[abstract]


def ref_sites(data: Any) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every `$ref` string in a document with the pointer of the mapping that holds it.
    `example` values are data, not schema, and are not searched."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), data)]
    while stack:
        pointer, value = stack.pop()
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str):
                yield pointer, ref
            stack.extend((pointer + (key,), child) for key, child in value.items()
                         if key not in ("example", "$ref") and isinstance(child, (dict, list)))
        elif isinstance(value, list):
            stack.extend((pointer + (i,), child) for i, child in enumerate(value)
                         if isinstance(child, (dict, list)))
