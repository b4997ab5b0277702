"""The upstream every system posts to: a bare aiohttp server answering 200 with a small JSON body."""

import sys

from aiohttp import web


async def sink(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"ok": True, "id": 1})


def main() -> None:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", sink)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
