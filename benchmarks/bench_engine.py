"""How fast the job engine runs: jobs per second for a 3-step recipe, and the rendering cost.

    python benchmarks/bench_engine.py [--seconds 5] [--concurrency 50]

Everything runs in one process and one event loop: an aiohttp sink on 127.0.0.1 that answers
every request with a small JSON body, and the engine sending to it through one pooled
connection (so the figures include the sink's own work, and are a floor, not a ceiling).
Phases, each bounded by `--seconds` (the whole run stays under ~30 s by default):

1. sequential: one job after another;
2. concurrent: `--concurrency` jobs in flight at once, sharing the connection's session;
3. rendering: each step's request rendered (datapills, URL joining, headers, JSON body) and
   nothing sent, in microseconds per job (3 requests).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from runner.engine.job import job_context, new_job, run_job  # noqa: E402
from runner.engine.runtime import Runtime, build_runtime  # noqa: E402
from runner.engine.steps import render_request  # noqa: E402
from runner.recipe.compile import Project, compile_project  # noqa: E402
from runner.recipe.lint import lint  # noqa: E402
from runner.recipe.loader import load_text  # noqa: E402
from runner.secrets import SecretSource  # noqa: E402

DOCUMENTS = """
kind: connection
name: sink
base_url: {base_url}/v1
private_network: true
auth: {{type: header, headers: {{Authorization: "Bearer {{{{ secrets.API_TOKEN }}}}"}}}}
headers: {{Accept: application/json}}
---
kind: recipe
name: lead-to-venue
vars: {{organization: "1234567"}}
trigger: {{webhook: {{}}}}
steps:
  - id: create_venue
    request:
      connection: sink
      method: POST
      url: /organizations/{{{{ vars.organization }}}}/venues/
      json:
        venue:
          name: "{{{{ trigger.body.venue }}}}"
          address: {{country: "{{{{ trigger.body.country | upper }}}}", city: "{{{{ trigger.body.city }}}}"}}
          capacity: "{{{{ trigger.body.capacity }}}}"
  - id: fetch
    request:
      connection: sink
      url: /venues/{{{{ steps.create_venue.body.id }}}}
      params: {{expand: address, lead: "{{{{ trigger.body.lead_id }}}}"}}
  - id: notify
    request:
      connection: sink
      method: PUT
      url: /leads/{{{{ trigger.body.lead_id }}}}
      json: {{venue_id: "{{{{ steps.fetch.body.id }}}}", note: "Venue {{{{ steps.fetch.body.name }}}} created"}}
"""

EVENT = {"body": {"venue": "Main Hall", "country": "no", "city": "Oslo", "capacity": 250,
                  "lead_id": "L-42"}, "headers": {"Content-Type": "application/json"}}
ANSWER = {"id": 991, "name": "Main Hall", "address": {"country": "NO"}}


def sink_app() -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response(ANSWER)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


def project(base_url: str) -> Project:
    result = load_text(DOCUMENTS.format(base_url=base_url), "bench.yaml")
    return compile_project(result, result.diagnostics + lint(result))


async def sequential(runtime: Runtime, project: Project, seconds: float) -> tuple[int, float]:
    recipe, jobs, started = project.recipes["lead-to-venue"], 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        job = await run_job(runtime, recipe, new_job(recipe.name, EVENT))
        assert job.status == "succeeded", job.error
        jobs += 1
    return jobs, time.perf_counter() - started


async def concurrent(
    runtime: Runtime, project: Project, seconds: float, width: int
) -> tuple[int, float]:
    recipe, started = project.recipes["lead-to-venue"], time.perf_counter()
    done = 0

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() - started < seconds:
            job = await run_job(runtime, recipe, new_job(recipe.name, EVENT))
            assert job.status == "succeeded", job.error
            done += 1

    await asyncio.gather(*(worker() for _ in range(width)))
    return done, time.perf_counter() - started


def render_cost(runtime: Runtime, project: Project, seconds: float) -> tuple[int, float]:
    """Context building plus the three requests rendered, per job; nothing is sent."""
    recipe = project.recipes["lead-to-venue"]
    response: dict[str, Any] = {"status": 200, "headers": {}, "body": ANSWER, "ok": True}
    jobs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        job = new_job(recipe.name, EVENT)
        context = job_context(runtime, recipe, job)
        for step in recipe.steps:
            render_request(step.request, context, runtime, "", f"{job.id}-{step.id}")
            context["steps"][step.id] = response
        jobs += 1
    return jobs, time.perf_counter() - started


async def main(seconds: float, width: int) -> None:
    runner = web.AppRunner(sink_app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    docs = project(f"http://127.0.0.1:{port}")
    runtime = build_runtime(docs, secrets=SecretSource(environ={"API_TOKEN": "t" * 40}))
    try:
        await sequential(runtime, docs, 0.5)  # warm up: connection pool, template caches
        jobs, took = await sequential(runtime, docs, seconds)
        print(f"sequential:     {jobs / took:8.0f} jobs/s  ({3 * jobs / took:.0f} requests/s, "
              f"{jobs} jobs in {took:.1f} s)")
        jobs, took = await concurrent(runtime, docs, seconds, width)
        print(f"concurrent x{width}: {jobs / took:8.0f} jobs/s  ({3 * jobs / took:.0f} "
              f"requests/s, {jobs} jobs in {took:.1f} s)")
        jobs, took = render_cost(runtime, docs, seconds)
        print(f"rendering only: {took / jobs * 1e6:8.1f} µs/job  (context + 3 requests; "
              f"{jobs} jobs in {took:.1f} s)")
    finally:
        await runtime.close()
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each phase")
    parser.add_argument("--concurrency", type=int, default=50, help="jobs in flight at once")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.seconds, arguments.concurrency))
