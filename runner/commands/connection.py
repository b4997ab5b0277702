"""`runner connection test NAME`: send the connection's test request and say whether it works.

Success is the test request's `expect` (default any 2xx); the exit code is 0 then, 1 otherwise
with the reason (status and body start, timeout, refused address, TLS problem...).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from runner.commands.common import CommandError, check_secrets, exit_code, fail, load_project
from runner.commands.output import print_step
from runner.commands.runtime import command_runtime
from runner.engine.records import StepRecord
from runner.engine.steps import StepRunner
from runner.errors import RunnerError
from runner.recipe.compile import Project, Step
from runner.recipe.loader import LoadResult
from runner.redact import Redactor


def run(args: argparse.Namespace) -> int:
    try:
        project, loaded = load_project(args.paths)
        return asyncio.run(_test(project, args.name, args.store, loaded))
    except CommandError as exc:
        return fail(exc)


async def _test(
    project: Project, name: str, store: str | None = None, loaded: LoadResult | None = None
) -> int:
    conn = project.connections.get(name)
    if conn is None:
        known = ", ".join(sorted(project.connections)) or "none"
        raise CommandError(f"runner: no connection named '{name}' (connections: {known})", 1)
    if conn.test is None:
        raise CommandError(
            f"connection {name} has no test request; add for example "
            "`test: {method: GET, url: /me}` to it", 1,
        )
    if loaded is not None:
        check_secrets(loaded, {("connection", name)})
    redactor = Redactor()
    step = Step("test", None, None, conn.test, None, "fail", False)
    try:
        async with command_runtime(project.narrowed([name]), store, redactor) as runtime:
            record = await StepRunner(runtime, "test").run(step, runtime.context_base())
    except RunnerError as exc:
        message = redactor.redact_text(str(exc))
        if not message.startswith(f"connection {name}: "):  # most set-up errors say it already
            message = f"connection {name}: {message}"
        sys.stderr.write(f"✗ {message}\n")
        return exit_code(exc)
    print_step(record)
    return _verdict(name, record)


def _verdict(name: str, record: StepRecord) -> int:
    call = record.calls[-1] if record.calls else None
    if record.status == "succeeded" and call is not None and call.response is not None:
        method = call.request.method if call.request else ""
        sys.stdout.write(
            f"\n✓ connection {name} works: {method} answered "
            f"{call.response.status} {call.response.reason}\n"
        )
        return 0
    sys.stdout.write(f"\n✗ connection {name} does not work: {record.error}\n")
    return 1
