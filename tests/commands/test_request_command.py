"""`runner request` as a real process against httpbin and a local API: the whole answer shown,
exit codes, bodies of every kind, and credentials that never show."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from aiohttp import web

from tests.commands.test_run_command import runner, write
from tests.support.servers import serve_app

SECRET = "pw-81c2-never-print-me"


def api(base: str) -> str:
    return f"""kind: connection
name: api
base_url: {base}
private_network: true
headers: {{Accept: application/json}}
auth: {{type: basic, username: ann, password: "{{{{ secrets.API_PASSWORD }}}}"}}
"""


async def request(tmp_path: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    if stdin is None:
        return await runner(tmp_path, "request", *args, env={"API_PASSWORD": SECRET})
    environ = {**os.environ, "API_PASSWORD": SECRET, "RUNNER_SECRETS_DIR": str(tmp_path / "none")}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "runner", "request", *args, cwd=tmp_path, env=environ,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout=30)
    return process.returncode or 0, out.decode(), err.decode()


async def test_get_through_the_connection_prints_status_headers_and_pretty_body(httpbin_url, tmp_path):
    write(tmp_path, "api.yaml", api(httpbin_url))
    code, out, err = await request(tmp_path, "api", "GET", f"/basic-auth/ann/{SECRET}", ".",
                                   "--param", "q=1")
    assert code == 0, err
    assert f"GET {httpbin_url}/basic-auth/ann/***?q=1" in out
    assert "← 200" in out and '"authenticated": true' in out  # pretty-printed JSON
    assert "Authorization: ***" in out
    assert SECRET not in out + err


async def test_json_body_from_the_argument_and_from_stdin(httpbin_url, tmp_path):
    write(tmp_path, "api.yaml", api(httpbin_url))
    code, out, _ = await request(tmp_path, "api", "POST", "/anything", ".",
                                 "--json", '{"name": "{{ not a template }}"}', "--format", "json")
    sent = json.loads(out)["response"]["json"]
    assert code == 0 and sent["json"] == {"name": "{{ not a template }}"}
    code, out, _ = await request(tmp_path, "api", "PUT", "/anything", ".", "--json", "-",
                                 "--format", "json", stdin='{"from": "stdin"}')
    assert code == 0 and json.loads(out)["response"]["json"]["json"] == {"from": "stdin"}


async def test_form_and_raw_bodies_and_headers(httpbin_url, tmp_path):
    write(tmp_path, "api.yaml", api(httpbin_url))
    _, out, _ = await request(tmp_path, "api", "POST", "/anything", ".", "--form", "a=1",
                              "--form", "b=two words", "--header", "X-Trace: t-1", "--format", "json")
    echoed = json.loads(out)["response"]["json"]
    assert echoed["form"] == {"a": "1", "b": "two words"} and echoed["headers"]["X-Trace"] == "t-1"
    _, out, _ = await request(tmp_path, "api", "POST", "/anything", ".", "--body", "<a/>",
                              "--content-type", "application/xml", "--format", "json")
    echoed = json.loads(out)["response"]["json"]
    assert echoed["data"] == "<a/>" and echoed["headers"]["Content-Type"] == "application/xml"


async def test_a_non_2xx_answer_exits_1_and_is_sent_once(tmp_path):
    hits: list[str] = []

    async def refuse(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response({"error": "country must be 2 letters"}, status=400)

    app = web.Application()
    app.router.add_post("/venues/", refuse)
    async with serve_app(app) as base:
        write(tmp_path, "api.yaml", api(base))
        code, out, _ = await request(tmp_path, "api", "post", "/venues/", ".",
                                     "--json", '{"country": "USA"}')
    assert code == 1
    assert "← 400" in out and "country must be 2 letters" in out
    assert hits == ["/venues/"]


async def test_usage_errors_exit_2_and_say_what(tmp_path):
    write(tmp_path, "api.yaml", api("http://127.0.0.1:9"))
    code, _, err = await request(tmp_path, "api", "POST", "/x", ".", "--json", '{"a": 1,}')
    assert code == 2 and "--json is not valid JSON" in err and "^" in err
    code, _, err = await request(tmp_path, "nope", "GET", "/x", ".")
    assert code == 2 and "no connection named 'nope' (connections: api)" in err
    code, _, err = await request(tmp_path, "api", "FETCH", "/x", ".")
    assert code == 2 and "METHOD must be one of" in err
    code, _, err = await runner(tmp_path, "request", "api", "GET", "/x", ".")  # no secret
    assert code == 2 and "API_PASSWORD" in err


async def test_no_answer_exits_1_with_the_reason(tmp_path):
    write(tmp_path, "api.yaml", api("http://127.0.0.1:9"))
    code, out, err = await request(tmp_path, "api", "GET", "/x", ".")
    assert code == 1
    assert "127.0.0.1:9" in out + err
