"""`runner request CONNECTION METHOD URL`: one request through a connection, the whole answer shown.

The wizard's "Send request": try an endpoint before writing a step. The request goes through
everything a step's request would (the connection's base URL, headers, params, auth with stored
OAuth2 tokens, TLS, proxy, egress rules, timeout) and is sent once: a one-off request is not
retried, so what it prints is what the API answered to one attempt (an OAuth2 401 still gets its
one refresh and retry). What the command line gives is data, never a template: `{{` in a value
is sent as it is. Exit codes: 0 a 2xx answer, 1 any other answer or none, 2 usage or environment.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any, TextIO

from runner.commands.common import CommandError, check_secrets, exit_code, fail, load_project
from runner.commands.output import print_call
from runner.commands.runtime import command_runtime
from runner.engine.records import StepRecord
from runner.engine.steps import StepRunner
from runner.errors import RunnerError
from runner.http.retry import RetryPolicy
from runner.recipe.compile import BodyKind, Project, RequestTemplate, Step
from runner.redact import Redactor
from runner.templating import Template, TreeConstant

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_ONCE = RetryPolicy(attempts=1)


def run(args: argparse.Namespace) -> int:
    try:
        template = request_template(args)
        project, loaded = load_project(args.paths)
        _require_connection(project, args.connection)
        check_secrets(loaded, {("connection", args.connection)})
        return asyncio.run(_send(project, template, args))
    except CommandError as exc:
        return fail(exc)


def request_template(args: argparse.Namespace) -> RequestTemplate:
    """The request the arguments describe, as constants (nothing in them is rendered)."""
    method = args.method.upper()
    if method not in METHODS:
        raise CommandError(f"runner: error: METHOD must be one of {', '.join(METHODS)}, "
                           f"not {args.method!r}", 2)
    kind, body, content_type = _body(args)
    return RequestTemplate(
        method=method,
        url=_constant(args.url),
        params=TreeConstant(_pairs(args.param, "=", "--param", "NAME=VALUE")),
        headers=TreeConstant(_pairs(args.header, ":", "--header", "NAME: VALUE")),
        body_kind=kind,
        body=None if kind == "none" else TreeConstant(body),
        content_type=None if content_type is None else _constant(content_type),
        expect=None,
        timeout=None,
        connection=args.connection,
    )


def _constant(text: str) -> Template:
    return Template(text, is_constant=True)


def _pairs(given: list[str] | None, separator: str, flag: str, shape: str) -> dict[str, Any]:
    """`--param a=1 --param a=2` as `{"a": ["1", "2"]}` (a repeated name is sent repeated)."""
    pairs: dict[str, Any] = {}
    for text in given or []:
        name, found, value = text.partition(separator)
        name = name.strip()
        if not found or not name:
            raise CommandError(f"runner: error: {flag} {text!r} must be {shape}", 2)
        value = value.strip() if separator == ":" else value
        if name in pairs:
            earlier = pairs[name]
            pairs[name] = [*earlier, value] if isinstance(earlier, list) else [earlier, value]
        else:
            pairs[name] = value
    if separator == ":":  # one header of each name: repeated ones join as HTTP allows
        pairs = {k: ", ".join(v) if isinstance(v, list) else v for k, v in pairs.items()}
    return pairs


def _body(args: argparse.Namespace) -> tuple[BodyKind, Any, str | None]:
    given = [flag for flag, value in (("--json", args.json), ("--form", args.form),
                                      ("--body", args.body)) if value is not None]
    if len(given) > 1:
        raise CommandError(f"runner: error: give one body: {' and '.join(given)} were both given", 2)
    if args.content_type is not None and args.body is None:
        raise CommandError("runner: error: --content-type goes with --body "
                           "(--json and --form set their own)", 2)
    if args.json is not None:
        return "json", _json_argument(args.json), None
    if args.form is not None:
        return "form", _pairs(args.form, "=", "--form", "NAME=VALUE"), None
    if args.body is not None:
        return "raw", args.body, args.content_type
    return "none", None, None


def _json_argument(text: str) -> Any:
    """The value of `--json` (`-`: read from stdin); a mistake is shown where it is."""
    where = "--json"
    if text == "-":
        text, where = sys.stdin.read(), "--json - (stdin)"
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"runner: error: {where} is not valid JSON: {exc.msg} at line "
                           f"{exc.lineno} column {exc.colno}{_pointer(text, exc.pos)}", 2) from None


def _pointer(text: str, position: int) -> str:
    """The line of `text` around `position`, with a caret under it."""
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    line = text[start: len(text) if end < 0 else end]
    column = position - start
    if len(line) > 70:  # show at most 70 characters, the caret's among them
        shift = max(0, min(column - 35, len(line) - 70))
        line, column = line[shift: shift + 70], column - shift
    return f"\n    {line}\n    {' ' * column}^"


def _require_connection(project: Project, name: str) -> None:
    if name not in project.connections:
        known = ", ".join(sorted(project.connections)) or "none (no connection documents loaded)"
        raise CommandError(f"runner: error: no connection named '{name}' (connections: {known})", 2)


async def _send(project: Project, template: RequestTemplate, args: argparse.Namespace) -> int:
    redactor = Redactor()
    step = Step("request", None, None, template, _ONCE, "fail", False)
    try:
        async with command_runtime(project.narrowed([args.connection]), args.store,
                                   redactor) as runtime:
            record = await StepRunner(runtime, "request").run(step, runtime.context_base())
    except RunnerError as exc:
        sys.stderr.write(f"runner: {redactor.redact_text(str(exc))}\n")
        return exit_code(exc)
    if args.format == "json":
        sys.stdout.write(json.dumps(as_json(record), indent=2, ensure_ascii=False) + "\n")
    else:
        print_exchange(record, args.connection, sys.stdout)
    return 0 if record.status == "succeeded" else 1


def as_json(record: StepRecord) -> dict[str, Any]:
    """The exchange for other tools: request, response (its JSON body parsed as `json`), each
    attempt, redirects, the time it took and the error."""
    call = record.to_json()["calls"][0] if record.calls else {}
    response = call.get("response")
    if response is not None and response.get("body") and not response.get("body_truncated"):
        try:
            response["json"] = json.loads(response["body"])
        except ValueError:
            pass
    return {"request": call.get("request"), "response": response,
            "attempts": call.get("attempts", []), "redirects": call.get("redirects", []),
            "duration_ms": round(record.duration_ms, 1), "error": record.error}


def print_exchange(record: StepRecord, connection: str, out: TextIO) -> None:
    """What was sent and what came back, then one line saying how it went."""
    for call in record.calls:
        print_call(call, out)
    took = f"{record.duration_ms:.0f} ms"
    response = record.calls[-1].response if record.calls else None
    if record.status == "succeeded" and response is not None:
        out.write(f"\n✓ {response.status} {response.reason} in {took} through connection "
                  f"{connection}\n")
    elif response is not None:  # the body is printed above: the status says it all
        out.write(f"\n✗ {response.status} {response.reason}, not 2xx, in {took} through "
                  f"connection {connection}\n")
    else:
        error = (record.error or "failed").removeprefix("step request: ")
        out.write(f"\n✗ {error} ({took}, connection {connection})\n")
