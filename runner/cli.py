"""The `runner` command line: argument parsing and dispatch; each command's module loads lazily.

Exit codes: 0 success, 1 the input is wrong (invalid documents, a failed job or test request),
2 usage or environment (bad arguments, a missing path, an unreachable store).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from runner.daemon.settings import port_number, whole_number

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2

_PATHS_HELP = "files or folders of YAML documents (default: connections/ and recipes/ here)"
_STORE_HELP = "job store URL (default: $RUNNER_STORE, else sqlite:///runner.db)"


class _Parser(argparse.ArgumentParser):
    """Exits with 2 on usage errors, as argparse does, but prints one clear line.

    A command's options may stand anywhere among its positional arguments
    (`runner validate a.yaml --strict b.yaml`): argparse alone stops filling `PATH...` at the first
    option and refuses what follows. `parse_intermixed_args` handles that, but not subcommands, so
    each command's own parser parses its arguments intermixed, and parsers that hold subcommands
    (`runner`, `runner jobs`, `runner connection`) parse as usual.
    """

    _intermixed = True
    _in_intermixed = False

    def error(self, message: str) -> None:  # type: ignore[override]
        required = "the following arguments are required: "
        if message.startswith(required):
            # Intermixed parsing counts `PATH...` (which may be left out) among the missing.
            optional = {a.metavar or a.dest for a in self._actions if a.nargs in ("*", "?")}
            missing = [n for n in message[len(required):].split(", ") if n not in optional]
            message = required + ", ".join(missing)
        self.print_usage(sys.stderr)
        sys.stderr.write(f"runner: error: {message}\n")
        raise SystemExit(EXIT_USAGE)

    def add_subparsers(self, **kwargs: Any) -> Any:
        self._intermixed = False
        return super().add_subparsers(**kwargs)

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        # parse_known_intermixed_args calls back into parse_known_args (up to Python 3.12): those
        # inner calls must parse plainly.
        if not self._intermixed or self._in_intermixed:
            return super().parse_known_args(args, namespace)
        self._in_intermixed = True
        try:
            parsed, extras = self.parse_known_intermixed_args(args, namespace)
        finally:
            self._in_intermixed = False
        if extras:  # said here, under this command's usage, not the top level's
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="runner", description="Declarative integration runner.")
    parser.add_argument("--version", action="version", version=_version())
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True

    validate = commands.add_parser("validate", help="check documents and report every problem")
    validate.add_argument("paths", nargs="*", metavar="PATH", help=_PATHS_HELP)
    validate.add_argument("--format", choices=("text", "json", "github"), default="text")
    validate.add_argument("--strict", action="store_true", help="also fail on secrets not provided")
    validate.set_defaults(module="validate")

    schema = commands.add_parser("schema", help="print the JSON Schema of both document kinds")
    schema.add_argument(
        "--write", metavar="DIR", help="write what it prints to DIR/runner.schema.json instead"
    )
    schema.set_defaults(module="schema")
    run = commands.add_parser("run", help="run one job now and print every request and response")
    run.add_argument("recipe", metavar="RECIPE", help="a recipe name, or a YAML file holding it")
    run.add_argument("paths", nargs="*", metavar="PATH", help=_PATHS_HELP)
    run.add_argument("--event", metavar="FILE", help="JSON file holding the trigger object")
    run.add_argument("--dry-run", action="store_true", help="render every request, send none")
    run.add_argument("--format", choices=("text", "json"), default="text")
    run.add_argument("--store", help=_STORE_HELP + "; OAuth2 tokens are read from it")
    run.set_defaults(module="run")

    serve = commands.add_parser("serve", help="run the daemon: webhooks, pollers, jobs")
    serve.add_argument("paths", nargs="*", metavar="PATH", help=_PATHS_HELP)
    serve.add_argument("--host", help="address to listen on (default $RUNNER_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=_flag_value(port_number),
                       help="port (default $RUNNER_PORT or 8080)")
    serve.add_argument("--store", help=_STORE_HELP)
    serve.add_argument("--workers", type=_flag_value(whole_number),
                       help="jobs running at once (default $RUNNER_WORKERS or 64; 0 runs none: "
                       "an accept-only replica)")
    serve.add_argument("--reload", action="store_true", help="reload when document files change")
    serve.add_argument("--log-format", choices=("auto", "json", "text"),
                       help="log lines as JSON or text (default $RUNNER_LOG_FORMAT or auto: JSON "
                       "unless stdout is a terminal)")
    serve.set_defaults(module="serve")

    jobs = commands.add_parser("jobs", help="job history from the store")
    jobs_actions = jobs.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    jobs_actions.required = True
    listing = jobs_actions.add_parser("list", help="recent jobs, newest first")
    listing.add_argument("--recipe")
    listing.add_argument("--status", choices=("queued", "running", "succeeded", "failed"))
    listing.add_argument("--limit", type=int, default=20)
    show = jobs_actions.add_parser("show", help="one job with every step's request and response")
    show.add_argument("id", metavar="ID")
    replay = jobs_actions.add_parser("replay", help="queue a new job with the same event")
    replay.add_argument("id", metavar="ID")
    replay.add_argument("--from-failed", action="store_true",
                        help="reuse the steps that succeeded and run from the first failed one")
    for sub in (listing, show, replay):
        sub.add_argument("--store", help=_STORE_HELP)
        sub.add_argument("--format", choices=("text", "json"), default="text")
        sub.set_defaults(module="jobs")

    connection = commands.add_parser("connection", help="work with connections")
    actions = connection.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    test = actions.add_parser("test", help="send a connection's test request")
    test.add_argument("name", metavar="NAME")
    test.add_argument("paths", nargs="*", metavar="PATH", help=_PATHS_HELP)
    test.set_defaults(module="connection")
    test.add_argument("--store", help=_STORE_HELP)

    connect = commands.add_parser("connect", help="authorize an OAuth2 connection and store its tokens")
    connect.add_argument("name", metavar="NAME")
    connect.add_argument("paths", nargs="*", metavar="PATH", help=_PATHS_HELP)
    connect.add_argument("--store", help=_STORE_HELP)
    connect.add_argument("--timeout", default="5m", help="how long to wait for the redirect (default 5m)")
    connect.add_argument("--no-browser", action="store_true", help="print the URL, open no browser")
    connect.add_argument("--via-server", metavar="URL",
                         help="the running daemon at URL receives the callback (it must share the store)")
    connect.set_defaults(module="connect")

    _add_builder_commands(commands)
    _add_import_commands(commands)

    connections = commands.add_parser("connections", help="list connections and their OAuth2 state")
    connections.add_argument("paths", nargs="*", metavar="PATH", help=_PATHS_HELP)
    connections.add_argument("--store", help=_STORE_HELP)
    connections.add_argument("--format", choices=("text", "json"), default="text")
    connections.set_defaults(module="connections")
    return parser


def _add_builder_commands(commands: Any) -> None:
    """The wizard's loop: send a request, keep a sample, list the datapills it gives."""
    request = commands.add_parser(
        "request", help="send one request through a connection and print the whole response",
        description="Send one request through a connection (its base URL, auth, TLS, proxy and "
        "egress rules), once, and print the whole response. Values are data, never templates. "
        "Exit 1 on a non-2xx answer.")
    request.add_argument("connection", metavar="CONNECTION")
    request.add_argument("method", metavar="METHOD", help="GET POST PUT PATCH DELETE HEAD OPTIONS")
    request.add_argument("url", metavar="URL", help="relative to the connection's base_url, or absolute")
    request.add_argument("paths", nargs="*", metavar="PATH", help=_PATHS_HELP)
    request.add_argument("--param", action="append", metavar="NAME=VALUE",
                         help="a query parameter (repeat it; a repeated name is sent repeated)")
    request.add_argument("--header", action="append", metavar="NAME:VALUE", help="a header (repeat it)")
    body = request.add_mutually_exclusive_group()
    body.add_argument("--json", metavar="JSON", help="a JSON body; - reads it from stdin")
    body.add_argument("--form", action="append", metavar="NAME=VALUE",
                      help="a form field of a urlencoded body (repeat it)")
    body.add_argument("--body", metavar="TEXT", help="a raw body (with --content-type)")
    request.add_argument("--content-type", metavar="TYPE", help="the raw body's Content-Type")
    request.add_argument("--format", choices=("text", "json"), default="text")
    request.add_argument("--store", help=_STORE_HELP + "; OAuth2 tokens are read from it")
    request.set_defaults(module="request")

    sample = commands.add_parser(
        "sample", help="run a recipe's job once and keep what it saw in samples/<recipe>.json",
        description="Run one job of RECIPE (as `runner run` does) and write the trigger and each "
        "step's status, headers and body to samples/<recipe name>.json beside the recipe's file, "
        "redacted, keys sorted. Steps that did not run keep what was recorded before. Exit 1 "
        "when the job fails (what ran is still written).")
    sample.add_argument("recipe", metavar="RECIPE", help="a recipe's name or a YAML file")
    sample.add_argument("paths", nargs="*", metavar="PATH", help=_PATHS_HELP)
    trigger = sample.add_mutually_exclusive_group()
    trigger.add_argument("--event", metavar="FILE", help="JSON holding the trigger object")
    trigger.add_argument("--job", metavar="JOB_ID",
                         help="take the trigger event of this job from the store's history")
    sample.add_argument("--store", help=_STORE_HELP)
    sample.set_defaults(module="sample")

    pills = commands.add_parser(
        "datapills", help="list the datapills a step can use, from the recipe's sample",
        description="List every datapill path a step can use (the trigger's, earlier steps' "
        "and item's in a for_each step), with its type and an example value, from the recipe's "
        "samples/<recipe>.json. Nothing is sent.")
    pills.add_argument("recipe", metavar="RECIPE", help="a recipe's name or a YAML file")
    pills.add_argument("paths", nargs="*", metavar="PATH", help=_PATHS_HELP)
    pills.add_argument("--step", metavar="ID",
                       help="the step that would use them (default: after the last step)")
    pills.add_argument("--format", choices=("text", "json"), default="text")
    pills.set_defaults(module="datapills")


def _add_import_commands(commands: Any) -> None:
    """`runner import FORMAT`: steps written from requests made elsewhere; nothing is sent."""
    group = commands.add_parser("import", help="write a step from a request made elsewhere")
    formats = group.add_subparsers(dest="format", required=True, metavar="FORMAT")
    curl = formats.add_parser("curl", help="print a step in YAML from a cURL command")
    curl.add_argument("command", metavar="'curl ...'")
    curl.add_argument("paths", nargs="*", metavar="PATH", help=_PATHS_HELP)
    curl.add_argument("--connection", metavar="NAME", help="the connection the URL goes through")
    curl.add_argument("--recipe", metavar="NAME",
                      help="propose datapills from this recipe's samples/<NAME>.json trigger")
    curl.add_argument("--id", default="request", help="the step's id (default: request)")
    curl.set_defaults(module="import_curl")
    openapi = formats.add_parser(
        "openapi", help="print a step in YAML from an operation of a connection's OpenAPI document",
        description="Print a step for OPERATION (an operationId, or 'METHOD /path' as the "
        "document writes it) of the OpenAPI document the connection names with `openapi:`: "
        "method, URL relative to the connection (path parameters as {{ }} placeholders), "
        "required query parameters and headers, and a JSON body from the operation's example or "
        "its schema's required fields. Nothing is sent.")
    openapi.add_argument("connection", metavar="CONNECTION")
    openapi.add_argument("operation", metavar="OPERATION", nargs="?")
    openapi.add_argument("paths", nargs="*", metavar="PATH", help=_PATHS_HELP)
    openapi.add_argument("--list", action="store_true", help="list the document's operations")
    openapi.add_argument("--search", metavar="WORD",
                         help="list the operations whose method, path, id or summary has WORD")
    openapi.add_argument("--id", help="the step's id (default: from the operationId)")
    openapi.set_defaults(module="import_openapi")


def _version() -> str:
    from runner import __version__

    return f"runner {__version__}"


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command and returns its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    module = importlib.import_module(f"runner.commands.{args.module}")
    try:
        return int(module.run(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


def _flag_value(parse: Any) -> Any:
    """A settings parser as an argparse type: its message ("expected a port number from 0 to
    65535") shown as the flag's error, so a flag and its RUNNER_* variable follow one rule."""
    def check(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    check.__name__ = parse.__name__
    return check
