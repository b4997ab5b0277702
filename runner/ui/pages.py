"""The pages under /ui/: recipes, jobs, one job, login; rendered on the server from the store.

The templates live in the package (`runner/ui/templates`) and render in an environment of
their own that escapes every value; it is never the recipes' sandbox. Pages carry no inline
script or style, and a Content-Security-Policy that allows neither: the one script
(`static/ui.js`) only refreshes running jobs and folds JSON, and the pages work without it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web

from runner.daemon.replays import ReplayRefused, queue_replay
from runner.errors import StoreError
from runner.ui.access import LOGIN_COOKIE, SESSION_COOKIE, Access
from runner.ui.forms import JobFilters, safe_next
from runner.ui.views import chart_start, job_duration_ms, job_view, recipe_rows

log = logging.getLogger(__name__)
PAGE_SIZE = 50
ACTIVITY_WINDOW = timedelta(hours=24)
FAILED_LOGIN_DELAY = 0.5  # seconds: a wrong token is answered slowly
STATIC = {"ui.css": "text/css", "ui.js": "text/javascript"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Not no-referrer: with it, browsers send `Origin: null` on the pages' own form posts.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def template_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("runner.ui", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["ms"] = _ms
    env.globals["job_duration_ms"] = job_duration_ms
    return env


def _when(text: str | None) -> str:
    """`2026-12-07 09:30:12 UTC` from a stored timestamp (they are all UTC)."""
    return "" if not text else f"{text[:19].replace('T', ' ')} UTC"


def _ms(value: float | None) -> str:
    if value is None:
        return ""
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    return f"{value:.0f} ms"


class Pages:
    """The routes of the pages, bound to one daemon."""

    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon
        self.access: Access = daemon.access
        self.env = template_environment()
        self.static = {name: resources.files("runner.ui").joinpath("static", name).read_bytes()
                       for name in STATIC}

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/", self.root)
        app.router.add_get("/ui", self.root)
        app.router.add_get("/ui/", self.recipes)
        app.router.add_get("/ui/jobs", self.jobs)
        app.router.add_get("/ui/jobs/{id}", self.job)
        app.router.add_post("/ui/jobs/{id}/replay", self.replay)
        app.router.add_get("/ui/login", self.login_form)
        app.router.add_post("/ui/login", self.login)
        app.router.add_post("/ui/logout", self.logout)
        app.router.add_get("/ui/static/{name}", self.asset)

    # -- plumbing ---------------------------------------------------------------------------------
    def _page(self, name: str, status: int = 200, session: str | None = None,
              **values: Any) -> web.Response:
        values.setdefault("csrf", self.access.csrf_token(session) if session else "")
        values.setdefault("login", self.access.mode == "token")
        values.setdefault("nav", "")
        html = self.env.get_template(name).render(**values)
        return web.Response(text=html, status=status, content_type="text/html",
                            headers=SECURITY_HEADERS)

    def _message(self, status: int, title: str, message: str, session: str | None = None
                 ) -> web.Response:
        return self._page("message.html", status, session, title=title, message=message)

    def _gate(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        """`(session, None)` when the request may see pages, else `(None, response)`: the
        login page for a browser, 401 for the script's refreshes, 403 for a refused host."""
        if self.access.mode == "local":
            refusal = self.access.local_refusal(request)
            if refusal is not None:
                return None, self._message(refusal[0], "Refused", refusal[2])
        session = self.access.session_id(request)
        if session is not None:
            return session, None
        if request.query.get("partial"):
            return None, web.Response(status=401, text="log in again", headers=SECURITY_HEADERS)
        target = urlencode({"next": request.path_qs})
        raise web.HTTPSeeOther(f"/ui/login?{target}", headers=SECURITY_HEADERS)

    def _post_gate(self, request: web.Request, form: Any) -> tuple[str | None,
                                                                   web.Response | None]:
        session, refused = self._gate(request)
        if refused is not None:
            return None, refused
        if not self.access.same_origin(request) or not self.access.csrf_ok(
                session, str(form.get("csrf", ""))):
            return None, self._message(403, "Refused", "This form is stale or was sent from "
                                       "another site: reload the page and try again.", session)
        return session, None

    # -- pages ------------------------------------------------------------------------------------
    async def root(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/ui/")

    async def recipes(self, request: web.Request) -> web.Response:
        session, refused = self._gate(request)
        if refused is not None:
            return refused
        active = self.daemon.active
        recipes = active.project.recipes if active is not None else {}
        sources = active.project.sources if active is not None else {}
        now = datetime.now(UTC)
        since = (now - ACTIVITY_WINDOW).isoformat()
        chart_since = chart_start(now)
        try:
            activity = await self.daemon.store.recipe_activity(list(recipes), since)
            minutes = await self.daemon.store.finished_per_minute(chart_since.isoformat())
        except StoreError as exc:
            return self._message(503, "The store is not answering", str(exc), session)
        rows = recipe_rows(recipes, sources, activity, minutes, now)
        return self._page("recipes.html", session=session, rows=rows, now=now.isoformat(),
                          nav="recipes")

    async def jobs(self, request: web.Request) -> web.Response:
        session, refused = self._gate(request)
        if refused is not None:
            return refused
        filters = JobFilters.from_query(request.query)
        recipes = sorted(self.daemon.active.project.recipes) if self.daemon.active else []
        if filters.error is None and filters.job_id:
            if await self.daemon.store.get_job(filters.job_id) is not None:
                raise web.HTTPSeeOther(f"/ui/jobs/{filters.job_id}")
            filters.error = f"There is no job {filters.job_id}."
        jobs: list[Any] = []
        if filters.error is None:
            try:
                jobs = await self.daemon.store.list_jobs(
                    recipe=filters.recipe, status=filters.status, limit=PAGE_SIZE + 1,
                    before=filters.before, since=filters.since, until=filters.until)
            except StoreError as exc:
                filters.error = str(exc)
        older = jobs[PAGE_SIZE - 1].id if len(jobs) > PAGE_SIZE else None
        values = {"jobs": jobs[:PAGE_SIZE], "filters": filters, "recipes": recipes,
                  "older": older and filters.link(before=older), "nav": "jobs",
                  "newest": filters.link(before=None)}
        if request.query.get("partial") == "rows":
            return self._page("job_rows.html", session=session, **values)
        return self._page("jobs.html", 400 if filters.error else 200, session, **values)

    async def job(self, request: web.Request) -> web.Response:
        session, refused = self._gate(request)
        if refused is not None:
            return refused
        job_id = request.match_info["id"]
        try:
            job = await self.daemon.store.get_job(job_id)
        except StoreError as exc:
            return self._message(503, "The store is not answering", str(exc), session)
        if job is None:
            return self._message(404, "No such job", f"There is no job {job_id}.", session)
        active = self.daemon.active
        recipe = active.project.recipes.get(job.recipe) if active is not None else None
        source = active.project.sources.get(job.recipe) if active is not None else None
        view = job_view(job, recipe)
        name = "job_main.html" if request.query.get("partial") else "job.html"
        return self._page(name, session=session, view=view, source=source, nav="jobs")

    async def replay(self, request: web.Request) -> web.Response:
        form = await request.post()
        session, refused = self._post_gate(request, form)
        if refused is not None:
            return refused
        job_id = request.match_info["id"]
        from_failed = form.get("from") == "failed"
        try:
            replay = await queue_replay(self.daemon, job_id, from_failed=from_failed)
        except ReplayRefused as exc:
            return self._message(exc.status, "Not replayed", exc.message, session)
        log.info("job replayed from the pages", extra={
            "job_id": replay.id, "replay_of": job_id, "from": "failed" if from_failed else "start"})
        raise web.HTTPSeeOther(f"/ui/jobs/{replay.id}")

    # -- login ------------------------------------------------------------------------------------
    async def login_form(self, request: web.Request) -> web.Response:
        return self._login_page(request, 200, "")

    def _login_page(self, request: web.Request, status: int, error: str) -> web.Response:
        if self.access.mode != "token":
            raise web.HTTPFound("/ui/")
        nonce = self.access.new_login_nonce()
        response = self._page("login.html", status, error=error, login_csrf=nonce,
                              next=safe_next(request.query.get("next")), nav="")
        response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="Strict",
                            secure=_secure(request), path="/ui/", max_age=3600)
        return response

    async def login(self, request: web.Request) -> web.Response:
        if self.access.mode != "token":
            raise web.HTTPFound("/ui/")
        form = await request.post()
        expected = request.cookies.get(LOGIN_COOKIE, "")
        given = str(form.get("csrf", ""))
        if not expected or not self.access.same_origin(request) or not \
                self.access.login_nonce_ok(expected, given):
            return self._message(403, "Refused", "This login form is stale or was sent from "
                                 "another site: open the login page again.")
        if not self.access.token_matches(str(form.get("token", ""))):
            await asyncio.sleep(FAILED_LOGIN_DELAY)
            log.warning("a login to the pages was refused: wrong token")
            return self._login_page(request, 401, "That is not the daemon's RUNNER_API_TOKEN.")
        response = web.HTTPSeeOther(safe_next(str(form.get("next", ""))), headers=SECURITY_HEADERS)
        response.set_cookie(SESSION_COOKIE, self.access.new_session(), httponly=True,
                            samesite="Strict", secure=_secure(request), path="/",
                            max_age=int(self.access.session_ttl))
        response.del_cookie(LOGIN_COOKIE, path="/ui/")
        raise response

    async def logout(self, request: web.Request) -> web.Response:
        form = await request.post()
        _session, refused = self._post_gate(request, form)
        if refused is not None:
            return refused
        self.access.revoke(request)
        response = web.HTTPSeeOther("/ui/login", headers=SECURITY_HEADERS)
        response.del_cookie(SESSION_COOKIE, path="/")
        raise response

    async def asset(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.static:
            raise web.HTTPNotFound()
        return web.Response(body=self.static[name], content_type=STATIC[name],
                            headers={"Cache-Control": "max-age=300",
                                     "X-Content-Type-Options": "nosniff"})


def _secure(request: web.Request) -> bool:
    """The cookie is Secure when the browser speaks HTTPS (here, or at a proxy in front)."""
    return request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
