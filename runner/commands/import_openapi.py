"""`runner import openapi CONNECTION OPERATION`: a step in YAML from the connection's OpenAPI
document; `--list [--search WORD]` lists its operations. Nothing is sent."""

from __future__ import annotations

import sys
from argparse import Namespace

from runner.commands.common import CommandError, fail
from runner.importing.step_yaml import step_yaml
from runner.openapi.apis import Api, load_apis
from runner.openapi.operations import Operation
from runner.openapi.skeleton import build_step
from runner.recipe.loader import PathNotFound, load_paths
from runner.recipe.models import ConnectionSpec


def run(args: Namespace) -> int:
    paths = list(args.paths)
    if (args.list or args.search) and args.operation is not None:
        paths.insert(0, args.operation)  # `--list PATH`: the positional was a path
    try:
        api = _api(args.connection, paths)
        if args.list or args.search:
            sys.stdout.write(_listing(api.index.search(args.search)))
            return 0
        if args.operation is None:
            raise CommandError("runner: error: name an OPERATION (an operationId or "
                               "'METHOD /path'), or --list the operations", 2)
        op = api.index.find(args.operation)
        if op is None:
            close = [o.operation_id or o.label for o in api.index.search(
                args.operation.split(" ")[-1].strip("/").split("/")[-1])][:5]
            hint = f"; similar: {', '.join(close)}" if close else ""
            raise CommandError(f"runner: error: {api.name} has no operation "
                               f"{args.operation!r}{hint} (see --list)", 2)
    except CommandError as exc:
        return fail(exc)
    step, notes = build_step(api, args.connection, op)
    if args.id:
        step["id"] = args.id
    sys.stdout.write(step_yaml(step, notes))
    return 0


def _api(name: str, paths: list[str]) -> Api:
    try:
        result = load_paths(paths or None)
    except PathNotFound as exc:
        raise CommandError(f"runner: error: {exc}", 2) from exc
    names = [d.spec.name for d in result.connections if isinstance(d.spec, ConnectionSpec)]
    if name not in names:
        raise CommandError(f"runner: error: no connection named '{name}' in PATH "
                           f"(connections: {', '.join(names) or 'none'})", 2)
    apis = load_apis(result)
    problems = [p for p in apis.problems if p.severity == "error"]
    api = apis.by_connection.get(name)
    if api is None and not problems:
        raise CommandError(f"runner: error: connection '{name}' names no OpenAPI document "
                           "(add `openapi: <path>` to it)", 2)
    if problems or api is None or not api.document.usable:
        raise CommandError("\n".join(str(p) for p in problems), 1)
    return api


def _listing(found: list[Operation]) -> str:
    width = min(max((len(op.label) for op in found), default=0), 70)
    ids = max((len(op.operation_id or "") for op in found), default=0)
    return "".join(f"{op.label:<{width}}  {op.operation_id or '':<{ids}}  {op.summary or ''}"
                   .rstrip() + "\n" for op in found)
