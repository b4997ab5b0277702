"""System A: a bare aiohttp handler that reads the body and answers 200."""

import sys

from aiohttp import web


async def handler(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"status": "ok"})


def main() -> None:
    app = web.Application()
    app.router.add_post("/webhooks/{path:.+}", handler)
    app.router.add_get("/healthz", handler)
    # `uvloop` as the last argument: the same handler on uvloop, the loop `runner serve` uses.
    loop = None
    if sys.argv[-1] == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None,
                loop=loop)


if __name__ == "__main__":
    main()
