"""The jobs API: `GET /api/jobs`, `GET /api/jobs/{id}`, `POST /api/jobs/{id}/replay[?from=failed]`.

With `RUNNER_API_TOKEN` set, every call needs `Authorization: Bearer <token>`; without it, the
API answers only on a loopback address (`runner.ui.access` says why and how).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from runner.daemon.http_errors import error_response
from runner.daemon.replays import ReplayRefused, queue_replay
from runner.errors import StoreError
from runner.ui.forms import STATUSES, utc_text

MAX_LIMIT = 500
REPLAY_FROM = ("start", "failed")

class JobsApi:
    def __init__(self, daemon: Any) -> None:
        self.daemon = daemon

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/jobs", self.list_jobs)
        app.router.add_get("/api/jobs/{id}", self.show_job)
        app.router.add_post("/api/jobs/{id}/replay", self.replay_job)

    def _refused(self, request: web.Request) -> web.Response | None:
        refusal = self.daemon.access.api_refusal(request)
        return None if refusal is None else error_response(*refusal)

    async def list_jobs(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        text = request.query.get("limit", "50")
        if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
            message = f"limit must be a whole number from 1 to {MAX_LIMIT}"
            return error_response(400, "bad-limit", message)
        limit = int(text)
        status = request.query.get("status")
        if status is not None and status not in STATUSES:
            message = f"status must be one of: {', '.join(STATUSES)}"
            return error_response(400, "bad-status", message)
        times = {}
        for name in ("since", "until"):
            if request.query.get(name):
                times[name] = utc_text(request.query[name])
                if times[name] is None:
                    return error_response(400, f"bad-{name}", f"{name} must be an ISO 8601 time "
                                          "like 2026-12-07T09:30 (UTC unless it has an offset)")
        try:
            jobs = await self.daemon.store.list_jobs(
                recipe=request.query.get("recipe"), status=status,
                limit=limit, before=request.query.get("before"), **times,
            )
        except StoreError as exc:
            return error_response(400, "bad-query", str(exc))
        return web.json_response({"jobs": [_summary(j) for j in jobs]})

    async def show_job(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        job = await self.daemon.store.get_job(request.match_info["id"])
        if job is None:
            return error_response(404, "unknown-job", f"no job {request.match_info['id']}")
        return web.json_response(job.to_json())

    async def replay_job(self, request: web.Request) -> web.Response:
        if (refused := self._refused(request)) is not None:
            return refused
        start = request.query.get("from", "start")
        if start not in REPLAY_FROM:
            return error_response(400, "bad-from", "from must be start (the default: every step "
                                  "again) or failed (reuse the steps that succeeded)")
        job_id = request.match_info["id"]
        try:
            replay = await queue_replay(self.daemon, job_id, from_failed=start == "failed")
        except ReplayRefused as exc:
            return error_response(exc.status, exc.code, exc.message)
        body = {"job_id": replay.id, "status": "queued", "replay_of": job_id,
                "reused_steps": [step.id for step in replay.steps]}
        return web.json_response(body, status=202)


def _summary(job: Any) -> dict[str, Any]:
    return {"id": job.id, "recipe": job.recipe, "status": job.status, "created_at": job.created_at,
            "started_at": job.started_at, "finished_at": job.finished_at, "error": job.error,
            "replay_of": job.replay_of}
