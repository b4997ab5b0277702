"""`runner import openapi CONNECTION OPERATION`: a step from the connection's OpenAPI document;
`--list [--search WORD]` lists its operations. Nothing is sent."""

from __future__ import annotations

import re
import sys
from argparse import Namespace

from runner.commands.common import CommandError, fail, load_project
from runner.importing.step_yaml import step_yaml
from runner.openapi.checks import Described, read_document
from runner.openapi.operations import Operation, find_operation, operations
from runner.openapi.skeleton import step_from
from runner.recipe.models import ConnectionSpec


def run(args: Namespace) -> int:
    paths = list(args.paths)
    if args.list and args.operation:
        paths.insert(0, args.operation)  # with --list, what follows the connection is a PATH
    try:
        described = _described(args.connection, paths)
        document = described.document
        assert document is not None
        if args.list or args.search:
            return _list(operations(document), args.search)
        if not args.operation:
            raise CommandError("runner: error: name an OPERATION (an operationId or "
                               "'METHOD /path'), or --list the operations", 2)
        operation = find_operation(document, args.operation)
        if operation is None:
            raise CommandError(f"runner: error: {args.operation!r} is not an operation of "
                               f"{document.shown}: see `runner import openapi {args.connection} "
                               f"--list --search WORD`", 2)
        spec = described.connection.spec
        assert isinstance(spec, ConnectionSpec)
        base = str(spec.base_url) if spec.base_url is not None else None
        step, notes = step_from(document, operation, spec.name, base, args.id or _step_id(
            operation))
    except CommandError as exc:
        return fail(exc)
    sys.stdout.write(step_yaml(step, notes))
    return 0


def _described(name: str, paths: list[str]) -> Described:
    _, result = load_project(paths or None)
    for loaded in result.connections:
        spec = loaded.spec
        if isinstance(spec, ConnectionSpec) and spec.name == name:
            if not spec.openapi:
                raise CommandError(f"runner: error: connection {name} names no OpenAPI document"
                                   f" (add `openapi: specs/<api>.yaml` to "
                                   f"{loaded.source.file})", 2)
            described = read_document(loaded)
            if described.problem is not None:
                raise CommandError(str(described.problem), 1)
            return described
    known = ", ".join(sorted(c.spec.name for c in result.connections)) or "none"
    raise CommandError(f"runner: error: no connection named {name!r} (connections: {known})", 2)


def _list(found: list[Operation], search: str | None) -> int:
    if search:
        word = search.lower()
        found = [op for op in found if word in " ".join(
            str(x) for x in (op.path, op.operation_id, op.summary, op.node.get("tags"),
                             op.method)).lower()]
    if not found:
        sys.stderr.write("runner: no operation matches\n")
        return 1
    width = min(max(len(op.name) for op in found), 70)
    for op in found:
        extra = "  ".join(x for x in (op.operation_id or "", op.summary or "") if x)
        sys.stdout.write(f"{op.name:{width}}  {extra}".rstrip() + "\n")
    sys.stderr.write(f"{len(found)} operation(s)\n")
    return 0


def _step_id(operation: Operation) -> str:
    """`create_venue` from createVenue, `repos_get` from repos/get, else from the method and path."""
    text = operation.operation_id or f"{operation.method}_{operation.path}"
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    cleaned = "".join(c if c.isalnum() else "_" for c in text).strip("_").lower()
    while "__" in cleaned:
        cleaned = cleaned.replace("__", "_")
    return cleaned if cleaned[:1].isalpha() else f"step_{cleaned}"
