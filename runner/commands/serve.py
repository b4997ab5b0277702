"""`runner serve`: the daemon, until SIGTERM or SIGINT; SIGHUP reloads the documents."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from aiohttp import web

from runner import heap
from runner.commands.common import exit_code
from runner.daemon.app import create_app
from runner.daemon.service import Daemon
from runner.daemon.settings import Settings
from runner.errors import DocumentError, RunnerError, StoreError
from runner.eventloop import run_loop, running_loop_name
from runner.logs import configure
from runner.recipe.loader import PathNotFound
from runner.ui.access import why_off

log = logging.getLogger("runner.serve")


def run(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env(
            host=args.host, port=args.port, store=args.store, workers=args.workers,
            reload=True if args.reload else None, log_format=args.log_format,
        )
    except ValueError as exc:
        sys.stderr.write(f"runner: error: {exc}\n")
        return 2
    settings.paths = list(args.paths)
    try:
        return run_loop(serve(settings), settings.event_loop)
    except KeyboardInterrupt:
        return 0


async def serve(settings: Settings) -> int:
    try:
        daemon = Daemon(settings)
    except StoreError as exc:  # a store URL the runner cannot use (an unknown scheme, say)
        sys.stderr.write(f"runner: refusing to start: store: {exc}\n")
        return 2
    configure(daemon.redactor, settings.log_format, settings.log_level)
    try:
        await daemon.start()
    except DocumentError as exc:
        # Only secrets missing: the documents are right, the environment is not (exit 2, as
        # `runner run` gives for a missing secret); anything else is the documents' fault.
        environment = all(d.code == "missing-secret" for d in exc.diagnostics if
                          d.severity == "error")
        what = "secrets are not provided" if environment else "the documents are invalid"
        sys.stderr.write(f"runner: refusing to start: {what}\n")
        sys.stderr.write("".join(f"{d}\n" for d in exc.diagnostics))
        return 2 if environment else 1
    except (StoreError, PathNotFound) as exc:
        what = "store: " if isinstance(exc, StoreError) else ""
        sys.stderr.write(f"runner: refusing to start: {what}{exc}\n")
        return 2
    except RunnerError as exc:
        sys.stderr.write(f"runner: refusing to start: {exc}\n")
        return exit_code(exc)  # 2 for a secret (RUNNER_SECRET_KEY included) not provided
    runner = web.AppRunner(create_app(daemon), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=1024)
    try:
        await site.start()
    except OSError as exc:
        where = f"{settings.host}:{settings.port}"
        sys.stderr.write(f"runner: cannot listen on {where}: {exc.strerror}\n")
        await daemon.stop()
        await runner.cleanup()
        return 2
    heap.settle()  # documents loaded, store open: what is alive now lives as long as the process
    stop = asyncio.Event()
    _install_signals(daemon, stop)
    # The port bound, which `--port 0` leaves to the system to choose.
    port = runner.addresses[0][1] if runner.addresses else settings.port
    log.info("listening", extra={"url": f"http://{settings.host}:{port}",
                                 "store": _without_password(settings.store),
                                 "event_loop": running_loop_name()})
    _say_where_the_pages_are(daemon, port)
    await stop.wait()
    log.info("stopping: draining running jobs", extra={"grace_s": settings.shutdown_grace})
    await daemon.stop()
    await runner.cleanup()
    log.info("stopped")
    return 0


def _say_where_the_pages_are(daemon: Daemon, port: int) -> None:
    settings = daemon.settings
    if daemon.access.mode == "off":
        log.warning(why_off(settings.host))
    elif not settings.ui:
        log.info("the web pages are off (RUNNER_UI=false)")
    else:
        login = "log in with RUNNER_API_TOKEN" if daemon.access.mode == "token" else "no login: " \
            "loopback only"
        log.info("job history pages", extra={"url": f"http://{settings.host}:{port}/ui/",
                                             "access": login})


def _install_signals(daemon: Daemon, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, daemon.request_reload)


def _without_password(url: str) -> str:
    """The store URL as a log line may show it: no password, no query options."""
    scheme, sep, rest = url.split("?")[0].partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at:
        return url.split("?")[0]
    user = userinfo.split(":")[0]
    return f"{scheme}{sep}{user}:***@{host}" if ":" in userinfo else f"{scheme}{sep}{user}@{host}"
