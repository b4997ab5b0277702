"""What the pages show, worked out from the store's records: plain values for the templates.

Everything here comes from job records, redacted when they were stored, and from the loaded
recipes' triggers: no secret reaches a page because none reaches this module. The templates
escape every value (their environment autoescapes), so a `<script>` in an event is text.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from runner.engine.records import AttemptRecord, CallRecord, JobRecord, StepRecord
from runner.recipe.compile import Recipe
from runner.store.base import MinuteCount, RecipeActivity

CHART_MINUTES = 180  # the recipes page charts the last three hours, a bar a minute
CHART_HEIGHT = 28
FOLDED_LINES = 40  # a body longer than this starts folded


@dataclass(frozen=True)
class Body:
    """A request or response body as shown: JSON pretty-printed, anything else as it came."""

    text: str
    is_json: bool
    truncated: bool

    @property
    def lines(self) -> int:
        return self.text.count("\n") + 1

    @property
    def folded(self) -> bool:
        return self.lines > FOLDED_LINES


def body_of(text: str | None, truncated: bool = False) -> Body | None:
    if text is None or text == "":
        return None
    stripped = text.lstrip()
    if not truncated and stripped[:1] in ("{", "["):
        try:
            return Body(json.dumps(json.loads(text), indent=2, ensure_ascii=False), True, False)
        except ValueError:
            pass
    return Body(text, False, truncated)


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class AttemptView:
    number: int
    started_at: str
    duration_ms: float
    status: int | None
    error: str | None
    waited_ms: float


@dataclass(frozen=True)
class CallView:
    index: int | None  # the `for_each` element, None for a step without one
    method: str | None
    url: str | None
    request_headers: list[tuple[str, str]]
    request_body: Body | None
    status: int | None
    reason: str
    response_headers: list[tuple[str, str]]
    response_body: Body | None
    attempts: list[AttemptView]
    redirects: list[str]
    error: str | None
    skipped: bool

    @property
    def retried(self) -> bool:
        return len(self.attempts) > 1


def call_view(call: CallRecord) -> CallView:
    request, response = call.request, call.response
    attempts = [_attempt(n, a) for n, a in enumerate(call.attempts, 1)]
    return CallView(
        index=call.index,
        method=request.method if request else None,
        url=request.url if request else None,
        request_headers=list(request.headers) if request else [],
        request_body=body_of(request.body, request.body_truncated) if request else None,
        status=response.status if response else None,
        reason=response.reason if response else "",
        response_headers=list(response.headers) if response else [],
        response_body=body_of(response.body, response.body_truncated) if response else None,
        attempts=attempts, redirects=list(call.redirects), error=call.error,
        skipped=call.skipped,
    )


def _attempt(number: int, attempt: AttemptRecord) -> AttemptView:
    return AttemptView(number, attempt.started_at, attempt.duration_ms, attempt.status,
                       attempt.error, attempt.waited_ms)


@dataclass
class StepView:
    id: str
    status: str  # succeeded | failed | skipped | not run
    started_at: str | None = None
    duration_ms: float = 0.0
    error: str | None = None
    reused_from: str | None = None
    calls: list[CallView] = field(default_factory=list)
    first_failed: bool = False
    offset_ms: float | None = None  # from the job's start; None for a reused or unrun step
    bar: tuple[float, float] | None = None  # waterfall: left and width, in percent


@dataclass
class JobView:
    job: JobRecord
    event: str
    steps: list[StepView]
    failed_step: str | None
    span_ms: float
    duration_ms: float | None
    unfinished: bool
    loaded: bool  # the daemon loads the recipe: replays can run

    @property
    def retryable(self) -> bool:
        return self.loaded and self.job.status == "failed"


def job_view(job: JobRecord, recipe: Recipe | None) -> JobView:
    """The job's steps in the recipe's order where it is loaded: recorded steps as they ran,
    then the recipe's steps that did not run (after a failure, or still to come)."""
    recorded = [_step_view(job, step) for step in job.steps]
    seen = {step.id for step in recorded}
    if recipe is not None:
        recorded += [StepView(step.id, "not run") for step in recipe.steps if step.id not in seen]
    failed = next((s for s in recorded if s.status == "failed"), None)
    if failed is not None:
        failed.first_failed = True
    span = max((s.offset_ms + s.duration_ms for s in recorded if s.offset_ms is not None),
               default=0.0)
    for step in recorded:
        if step.offset_ms is not None and span > 0:
            left = 100.0 * step.offset_ms / span
            step.bar = (left, max(100.0 * step.duration_ms / span, 0.4))
    return JobView(job, pretty_json(job.event), recorded, failed.id if failed else None, span,
                   job_duration_ms(job),
                   job.status in ("queued", "running"), recipe is not None)


def _step_view(job: JobRecord, step: StepRecord) -> StepView:
    view = StepView(step.id, step.status, step.started_at, step.duration_ms, step.error,
                    step.reused_from, [call_view(c) for c in step.calls])
    if step.reused_from is None:
        offset = _between(job.started_at, step.started_at)
        view.offset_ms = None if offset is None else max(offset, 0.0)
    return view


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _between(start: str | None, end: str | None) -> float | None:
    """Milliseconds from `start` to `end`, None when either is missing."""
    first, last = _moment(start), _moment(end)
    if first is None or last is None:
        return None
    return (last - first).total_seconds() * 1000.0


def job_duration_ms(job: JobRecord) -> float | None:
    return _between(job.started_at, job.finished_at)


# -- the recipes page ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Chart:
    """A recipe's finished jobs per minute as two SVG paths (succeeded below, failed stacked on
    top) in a CHART_MINUTES x CHART_HEIGHT box: two elements, not hundreds, to render."""

    succeeded: str
    failed: str
    peak: int  # the most jobs finished in one minute
    total: int


@dataclass
class RecipeRow:
    name: str
    trigger: str
    enabled: bool
    source: str | None
    activity: RecipeActivity
    chart: Chart | None

    @property
    def total(self) -> int:
        return sum(self.activity.counts.values())


def trigger_text(recipe: Recipe) -> str:
    spec = recipe.spec.trigger
    if spec.webhook is not None:
        return f"webhook {'/'.join(spec.webhook.methods)} /webhooks/{recipe.spec.webhook_path}"
    assert spec.poll is not None
    if spec.poll.schedule:
        return f"poll on schedule {spec.poll.schedule}"
    return f"poll every {seconds_text(spec.poll.every or 0)}"


def seconds_text(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def chart_start(now: datetime) -> datetime:
    """The first minute the chart shows (its bars end with the current minute)."""
    return now.replace(second=0, microsecond=0) - timedelta(minutes=CHART_MINUTES - 1)


def recipe_rows(
    recipes: dict[str, Recipe], sources: dict[str, str], activity: dict[str, RecipeActivity],
    minutes: list[MinuteCount], now: datetime,
) -> list[RecipeRow]:
    start = chart_start(now)
    slots = {(start + timedelta(minutes=n)).strftime("%Y-%m-%dT%H:%M"): n
             for n in range(CHART_MINUTES)}
    per_recipe: dict[str, dict[str, list[int]]] = defaultdict(
        lambda: {"succeeded": [0] * CHART_MINUTES, "failed": [0] * CHART_MINUTES})
    for count in minutes:
        slot = slots.get(count.minute)
        if slot is not None and count.status in ("succeeded", "failed"):
            per_recipe[count.recipe][count.status][slot] += count.count
    rows = []
    for name in sorted(recipes):
        recipe = recipes[name]
        series = per_recipe.get(name)
        rows.append(RecipeRow(name, trigger_text(recipe), recipe.spec.enabled, sources.get(name),
                              activity.get(name, RecipeActivity(name)),
                              None if series is None else _chart(series["succeeded"],
                                                                 series["failed"])))
    return rows


def _chart(ok: list[int], failed: list[int]) -> Chart | None:
    peak = max((a + b for a, b in zip(ok, failed, strict=True)), default=0)
    if peak == 0:
        return None
    scale = CHART_HEIGHT / peak
    good, bad = [], []
    for slot, (n_ok, n_failed) in enumerate(zip(ok, failed, strict=True)):
        ok_h, fail_h = n_ok * scale, n_failed * scale
        if n_ok:
            good.append(f"M{slot} {CHART_HEIGHT - ok_h:.2f}h1V{CHART_HEIGHT}h-1Z")
        if n_failed:
            top = CHART_HEIGHT - ok_h - fail_h
            bad.append(f"M{slot} {top:.2f}h1v{fail_h:.2f}h-1Z")
    return Chart("".join(good), "".join(bad), peak, sum(ok) + sum(failed))
