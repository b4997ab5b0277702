"""How the bare systems serve: on 127.0.0.1, no access log, and on uvloop when the last
command-line argument is `uvloop` (the loop `runner serve` uses by default)."""

import sys

from aiohttp import web


def serve(app: web.Application, port: int) -> None:
    loop = None
    if sys.argv[-1] == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None, loop=loop)
