"""What the page tests share: a billing API that fails until fixed, its recipe, a daemon, a login."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.daemon.conftest import DaemonProcess, ThreadedApp, http, wait_for

TOKEN = "ui-token-6f1e0a9d4c2b"
SECRET = "billing-key-93e1c7a0"  # the connection's API key: never on any page
# An event an attacker controls: each page must show these as text.
HOSTILE = {
    "name": "<script>document.title='pwned'</script>",
    "quote": '"><img src=x onerror="document.title=\'pwned\'">',
    "link": "javascript:document.title='pwned'",
}


class Billing:
    """Creates an invoice (201), then `notify` answers 500 until `fixed` is set: the on-call
    story. Counts the requests of each path, so a test sees what a retry sent again."""

    def __init__(self) -> None:
        self.fixed = False
        self.counts: Counter[str] = Counter()
        self.keys: list[str] = []
        app = web.Application()
        app.router.add_post("/invoices", self.create)
        app.router.add_post("/notify", self.notify)
        self.server = ThreadedApp(app)
        self.url = self.server.url

    async def create(self, request: web.Request) -> web.Response:
        self.counts["/invoices"] += 1
        self.keys.append(request.headers.get("X-Api-Key", ""))
        body = await request.json()
        return web.json_response({"id": "inv_42", "customer": body.get("customer"),
                                  "api_key_seen": request.headers.get("X-Api-Key")}, status=201)

    async def notify(self, request: web.Request) -> web.Response:
        self.counts["/notify"] += 1
        if not self.fixed:
            return web.json_response({"error": "billing is down for maintenance",
                                      "echo": await request.json()}, status=500)
        return web.json_response({"notified": True})

    def close(self) -> None:
        self.server.close()


def billing_recipe(folder: Path, url: str) -> Path:
    path = folder / "billing.yaml"
    path.write_text(f"""\
kind: connection
name: billing
base_url: {url}
private_network: true
headers: {{X-Api-Key: "{{{{ secrets.BILLING_KEY }}}}"}}
---
kind: recipe
name: billing-sync
trigger: {{webhook: {{path: billing}}}}
steps:
  - id: create_invoice
    request:
      connection: billing
      method: POST
      url: /invoices
      json: {{customer: "{{{{ trigger.body.name }}}}", link: "{{{{ trigger.body.link }}}}"}}
  - id: notify
    request:
      connection: billing
      method: POST
      url: /notify
      json: {{invoice: "{{{{ steps.create_invoice.body.id }}}}", note: "{{{{ trigger.body.quote }}}}"}}
""", encoding="utf-8")
    return path


def start_daemon(daemons: Any, tmp_path: Path, billing: Billing, env: dict[str, str] | None = None,
                 args: list[str] | None = None) -> DaemonProcess:
    recipe = billing_recipe(tmp_path, billing.url)
    daemon: DaemonProcess = daemons([recipe], env={"RUNNER_API_TOKEN": TOKEN, **(env or {})},
                                    args=args)
    secrets = daemon.workdir / "secrets"
    secrets.mkdir()
    (secrets / "BILLING_KEY").write_text(SECRET, encoding="utf-8")
    return daemon.start()


def post_event(daemon: DaemonProcess, event: dict[str, Any] | None = None) -> str:
    status, body = http("POST", f"{daemon.url}/webhooks/billing",
                        json.dumps(event or HOSTILE).encode(),
                        {"Content-Type": "application/json"})
    assert status == 202, body
    return str(json.loads(body)["job_id"])


def wait_finished(daemon: DaemonProcess, job_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        status, body = http("GET", f"{daemon.url}/api/jobs/{job_id}",
                            headers={"Authorization": f"Bearer {TOKEN}"})
        job = json.loads(body) if status == 200 else None
        return job if job and job["status"] in ("succeeded", "failed") else None
    return wait_for(finished, 15, f"job {job_id} to finish")  # type: ignore[no-any-return]


class Browserless:
    """A logged-in HTTP client of the pages (urllib with a cookie jar, no redirects followed
    unless asked): what the security tests use to read raw HTML and headers."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                  _NoRedirects())

    def request(self, method: str, path: str, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        data = None if form is None else urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers=headers or {})
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read().decode()

    def login(self, token: str = TOKEN) -> tuple[int, dict[str, str], str]:
        status, _, html = self.request("GET", "/ui/login")
        assert status == 200, html
        return self.request("POST", "/ui/login", {"token": token, "csrf": csrf_of(html),
                                                  "next": "/ui/jobs"})


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None

