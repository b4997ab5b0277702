"""Readable terminal output of a job: each step's request and response, as a person reads them.

Everything printed comes from job records, which are redacted already: this module never sees a
secret, so it cannot print one.
"""

from __future__ import annotations

import json
import sys
from typing import TextIO

from runner.engine.records import CallRecord, JobRecord, RequestRecord, StepRecord
from runner.recipe.compile import Recipe

INDENT = "    "


def _out(out: TextIO | None) -> TextIO:
    return sys.stdout if out is None else out  # looked up per call: tests replace sys.stdout


def print_job_start(
    job: JobRecord, recipe: Recipe, dry_run: bool, out: TextIO | None = None
) -> None:
    mode = " (dry run: nothing is sent)" if dry_run else ""
    _out(out).write(f"job {job.id}  recipe {recipe.name}{mode}\n")


def print_step(step: StepRecord, out: TextIO | None = None) -> None:
    out = _out(out)
    out.write(f"\n── step {step.id}: {step.status} ({step.duration_ms:.0f} ms)\n")
    for call in step.calls:
        print_call(call, out)
    if step.error:
        out.write(f"{INDENT}✗ {step.error}\n")


def print_request(request: RequestRecord, out: TextIO | None = None, label: str = "") -> None:
    out = _out(out)
    out.write(f"{INDENT}{label}→ {request.method} {request.url}\n")
    _print_headers(request.headers, out)
    _print_body(request.body, request.body_truncated, out)


def print_call(call: CallRecord, out: TextIO) -> None:
    label = "" if call.index is None else f"[item {call.index}] "
    if call.skipped:
        out.write(f"{INDENT}{label}skipped ({call.error or 'if: was false'})\n")
        return
    if call.request is not None:
        print_request(call.request, out, label)
    for url in call.redirects:
        out.write(f"{INDENT}↪ redirected to {url}\n")
    tries = len(call.attempts)
    if call.response is not None:
        res = call.response
        timing = f"{sum(a.duration_ms for a in call.attempts):.0f} ms, {tries} attempt(s)"
        out.write(f"{INDENT}← {res.status} {res.reason}  ({timing})\n")
        _print_headers(res.headers, out)
        _print_body(res.body, res.body_truncated, out)
    elif call.error and tries:
        last = call.attempts[-1].error or "no response"
        out.write(f"{INDENT}← no response after {tries} attempt(s): {last}\n")


def _print_headers(headers: list[tuple[str, str]], out: TextIO) -> None:
    for name, value in headers:
        out.write(f"{INDENT}  {name}: {value}\n")


def _print_body(body: str | None, truncated: bool, out: TextIO) -> None:
    if not body:
        return
    text = body
    if not truncated:
        try:
            text = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    out.write("\n")
    for line in text.splitlines():
        out.write(f"{INDENT}  {line}\n")
    if truncated:
        out.write(f"{INDENT}  … (cut at the body limit; RUNNER_BODY_LIMIT raises it)\n")


def print_job_end(job: JobRecord, out: TextIO | None = None) -> None:
    out = _out(out)
    mark = "✓" if job.status == "succeeded" else "✗"
    out.write(f"\n{mark} job {job.status}")
    if job.error:
        out.write(f": {job.error}")
    out.write("\n")
