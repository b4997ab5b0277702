"""System B: a bare aiohttp handler doing the recipe's work by hand: parse the webhook, build the
JSON body, POST it to the sink over a pooled session, answer with the sink's id."""

import json
import sys

import aiohttp
from aiohttp import web
from serving import serve

SINK = web.AppKey("sink", str)
SESSION = web.AppKey("session", aiohttp.ClientSession)


async def handler(request: web.Request) -> web.Response:
    event = await request.json()
    body = {"id": event["id"], "name": str(event["name"]).upper(), "amount": event["amount"],
            "tags": event["tags"]}
    async with request.app[SESSION].post(
        request.app[SINK] + "/sink", data=json.dumps(body), headers={"Content-Type": "application/json"}
    ) as response:
        answer = await response.json()
    return web.json_response({"forwarded": answer["id"]})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def session_ctx(app: web.Application):  # type: ignore[no-untyped-def]
    app[SESSION] = aiohttp.ClientSession()
    yield
    await app[SESSION].close()


def main() -> None:
    app = web.Application()
    app[SINK] = sys.argv[2]
    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/webhooks/{path:.+}", handler)
    app.router.add_get("/healthz", health)
    serve(app, int(sys.argv[1]))

if __name__ == "__main__":
    main()
