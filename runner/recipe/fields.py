"""Reusable field types of the recipe language: names, durations, sizes, methods, status lists.

Each type validates with a message a recipe author understands and carries its own JSON Schema,
so the generated schema and the validator can never disagree.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

from runner.durations import parse_duration, parse_size
from runner.recipe.yamlsource import yaml_text

_NAME = re.compile(r"^[a-z0-9_-]+$")
_STEP_ID = re.compile(r"^[a-z_][a-z0-9_]*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Segments of letters, digits, - _ . ; a segment of dots alone (`.`, `..`) is refused: clients
# resolve those before sending, so such a path would reach another recipe or none.
_SEGMENT = r"(?!\.+(?:/|$))[A-Za-z0-9_.-]+"
_WEBHOOK_PATH = re.compile(rf"^{_SEGMENT}(/{_SEGMENT})*$")


def _matching(pattern: re.Pattern[str], what: str) -> Any:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise ValueError(f"'{value}' is not a valid {what}")
        return value

    return check


Name = Annotated[
    str,
    AfterValidator(_matching(_NAME, "name: use lower-case letters, digits, '-' and '_'")),
    WithJsonSchema({"type": "string", "pattern": _NAME.pattern}),
]
StepId = Annotated[
    str,
    AfterValidator(_matching(_STEP_ID, "step id: start with a-z or '_', then a-z, 0-9, '_'")),
    WithJsonSchema({"type": "string", "pattern": _STEP_ID.pattern}),
]
Identifier = Annotated[
    str,
    AfterValidator(_matching(_IDENT, "name: use letters, digits and '_', not starting with a digit")),
    WithJsonSchema({"type": "string", "pattern": _IDENT.pattern}),
]
WebhookPath = Annotated[
    str,
    BeforeValidator(lambda v: v.strip("/") if isinstance(v, str) else v),
    AfterValidator(
        _matching(_WEBHOOK_PATH, "webhook path: segments of letters, digits, - _ . separated by "
                  "/, none of them only dots")
    ),
    WithJsonSchema({"type": "string", "pattern": rf"^/?{_SEGMENT}(/{_SEGMENT})*/?$"}),
]


_DURATION_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*(ms|s|m|h|d)?\s*$"},
        {"type": "number", "minimum": 0},
    ],
    "description": "A duration: 30s, 5m, 1h, 250ms, 1d, or a number of seconds.",
}
_SIZE_SCHEMA = {
    "anyOf": [
        {"type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*([KMG]i?B|B)?\s*$"},
        {"type": "integer", "minimum": 0},
    ],
    "description": "A size: 512KiB, 1MiB, or a number of bytes.",
}

#: Seconds. In YAML: `30s`, `5m`, `1h`, `250ms`, `1d`, or a bare number of seconds.
Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)]
def _positive(seconds: float) -> float:
    if seconds <= 0:
        raise ValueError("must be more than 0 seconds")
    return seconds


#: A Duration that must be more than zero (an interval, a timeout).
PositiveDuration = Annotated[
    float,
    BeforeValidator(parse_duration),
    AfterValidator(_positive),
    WithJsonSchema({**_DURATION_SCHEMA, "description": "A duration more than zero: 30s, 5m, 1h, 250ms, 1d, or seconds."}),
]
#: Bytes. In YAML: `512KiB`, `1MiB`, or a bare number of bytes.
Size = Annotated[int, BeforeValidator(parse_size), WithJsonSchema(_SIZE_SCHEMA)]

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
METHODS: tuple[str, ...] = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

RETRY_CONDITIONS = ("timeout", "connection", "4xx", "5xx")


def _retry_condition(value: Any) -> str:
    """`429`, `"503"`, `5xx`, `4xx`, `timeout` or `connection`, kept as a string."""
    if isinstance(value, bool):
        raise ValueError(f"'{value}' is not a retry condition")
    text = str(value).strip().lower()
    if text in RETRY_CONDITIONS:
        return text
    if text.isdigit() and 100 <= int(text) <= 599:
        return text
    raise ValueError(
        f"'{value}' is not a retry condition; expected an HTTP status (429), a class (5xx, 4xx), "
        "timeout or connection"
    )


RetryCondition = Annotated[
    str,
    BeforeValidator(_retry_condition),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {"type": "string", "pattern": r"^([1-5][0-9][0-9]|[45]xx|timeout|connection)$"},
            ]
        }
    ),
]


def is_status(value: Any) -> bool:
    """Whether `value` is an HTTP status code: an integer (not a bool) from 100 to 599."""
    return isinstance(value, int) and not isinstance(value, bool) and 100 <= value <= 599


def _status(value: Any) -> int:
    if not is_status(value):
        raise ValueError(f"{yaml_text(value)} is not an HTTP status code (100-599)")
    return int(value)


Status = Annotated[
    int,
    BeforeValidator(_status),
    WithJsonSchema({"type": "integer", "minimum": 100, "maximum": 599}),
]


def _status_or_template(value: Any) -> int | str:
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        return value  # rendered when the job has finished; checked then
    return _status(value)


# A status chosen by the job's outcome (`"{{ 201 if steps.create.body.new else 200 }}"`): any
# string value may be a template, so a sync webhook's response status may be one too.
StatusOrTemplate = Annotated[
    int | str,
    BeforeValidator(_status_or_template),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 100, "maximum": 599},
                              {"type": "string", "pattern": r"\{[{%]"}]}),
]


def _string_list(value: Any) -> Any:
    """Scopes may be written as a list or as one space-separated string."""
    return value.split() if isinstance(value, str) else value


Scopes = Annotated[
    list[str],
    BeforeValidator(_string_list),
    WithJsonSchema(
        {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]}
    ),
]


def _http_url(value: Any) -> Any:
    """An absolute http(s) URL, or a template that renders to one (checked when rendered)."""
    if not isinstance(value, str) or "{{" in value or "{%" in value:
        return value  # a non-string is refused by the str type; a template is rendered later
    return check_http_url(value)


def check_http_url(value: str) -> str:
    """`value` if it is an absolute http or https URL, else a ValueError saying so (quoting it:
    the caller decides whether it may be shown)."""
    try:
        parts = urlsplit(value.strip())
        valid = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 -- raises ValueError for a port out of range
    except ValueError:  # an invalid port or IPv6 literal
        valid = False
    if not valid:
        raise ValueError(f"'{value}' is not an absolute http or https URL "
                         "(expected something like https://api.example.com/v1)")
    return value


HttpUrl = Annotated[
    str,
    BeforeValidator(_http_url),
    WithJsonSchema({"type": "string", "pattern": r"^(https?://|.*\{[{%])"}),
]


def _mapping_or_template(value: Any) -> Any:
    """A mapping as written, or one string with Jinja in it that the request renders (to a
    mapping: checked then), as `json:` may be: `form: "{{ trigger.body }}"`."""
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and ("{{" in value or "{%" in value):
        return value
    shown = "a string without {{ }}" if isinstance(value, str) else yaml_text(value)
    raise ValueError(f"expected a mapping, or a template ({{{{ ... }}}}) that renders to one; "
                     f"got {shown}")


#: `params`, `headers`, `form` of a request: a mapping, or a template rendering to one.
MappingOrTemplate = Annotated[
    Any,
    BeforeValidator(_mapping_or_template),
    WithJsonSchema({"anyOf": [{"type": "object"}, {"type": "string", "pattern": r"\{[{%]"}]}),
]
