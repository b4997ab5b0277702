"""System A: a bare aiohttp handler that reads the body and answers 200."""

import sys

from aiohttp import web
from serving import serve


async def handler(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"status": "ok"})


def main() -> None:
    app = web.Application()
    app.router.add_post("/webhooks/{path:.+}", handler)
    app.router.add_get("/healthz", handler)
    serve(app, int(sys.argv[1]))

if __name__ == "__main__":
    main()
