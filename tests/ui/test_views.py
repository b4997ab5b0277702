"""What the pages compute from records: step views, bodies, the chart, filters, redirects."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from runner.commands.run import load_recipe
from runner.engine.records import (
    AttemptRecord,
    CallRecord,
    JobRecord,
    RequestRecord,
    ResponseRecord,
    StepRecord,
)
from runner.store.base import MinuteCount, RecipeActivity
from runner.ui.forms import JobFilters, safe_next
from runner.ui.views import body_of, job_view, recipe_rows


def step(step_id: str, status: str, at: str, ms: float, **extra: object) -> StepRecord:
    request = RequestRecord("POST", "https://api.example.com/x", [("A", "1")], '{"a":1}')
    response = ResponseRecord(500 if status == "failed" else 200, "", [], '{"b":[1,2]}')
    attempts = [AttemptRecord(at, ms / 2, status=503), AttemptRecord(at, ms / 2, status=200,
                                                                      waited_ms=250.0)]
    return StepRecord(step_id, status, at, ms, [CallRecord(None, request, response, attempts)],
                      **extra)  # type: ignore[arg-type]


def test_job_view_orders_times_and_marks_the_first_failure() -> None:
    job = JobRecord("j2", "r", "failed", {"body": {}}, "2026-12-07T09:00:00+00:00",
                    started_at="2026-12-07T09:00:00+00:00",
                    finished_at="2026-12-07T09:00:01+00:00")
    job.steps = [
        step("one", "succeeded", "2026-12-07T08:00:00+00:00", 40, reused_from="j1"),
        step("two", "succeeded", "2026-12-07T09:00:00.000+00:00", 100),
        step("three", "failed", "2026-12-07T09:00:00.100+00:00", 300),
    ]
    view = job_view(job, None)
    one, two, three = view.steps
    assert one.reused_from == "j1" and one.offset_ms is None and one.bar is None
    assert view.span_ms == 400 and view.failed_step == "three" and three.first_failed
    assert two.bar == (0.0, 25.0) and three.bar == (25.0, 75.0)
    call = three.calls[0]
    assert call.retried and call.attempts[1].waited_ms == 250.0
    assert call.response_body is not None and call.response_body.is_json
    assert view.duration_ms == 1000 and not view.loaded and not view.retryable


def test_bodies_are_pretty_json_or_left_as_they_came() -> None:
    pretty = body_of('{"a": {"b": [1, "<x>"]}}')
    assert pretty is not None and pretty.is_json and pretty.text.startswith('{\n  "a"')
    cut = body_of('{"a": 1', truncated=True)
    assert cut is not None and not cut.is_json and cut.truncated and cut.text == '{"a": 1'
    assert body_of("") is None and body_of(None) is None
    long = body_of("[" + ",".join(["1"] * 100) + "]")
    assert long is not None and long.folded


def test_recipe_rows_chart_the_last_three_hours_of_loaded_recipes(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("""\
kind: recipe
name: r
trigger: {poll: {every: 5m, request: {method: GET, url: "http://127.0.0.1:9/x"}, key: "{{ record.id }}"}}
steps: []
---
kind: recipe
name: idle
enabled: false
trigger: {webhook: {path: in/idle, methods: [POST, PUT]}}
steps: []
""")
    project, _, _ = load_recipe("r", [str(tmp_path)])
    now = datetime(2026, 12, 7, 12, 0, 30, tzinfo=UTC)
    minutes = [MinuteCount("r", "2026-12-07T12:00", "succeeded", 2),
               MinuteCount("r", "2026-12-07T12:00", "failed", 2),
               MinuteCount("r", "2026-12-07T11:59", "succeeded", 1),
               MinuteCount("r", "2026-12-07T08:00", "failed", 9),  # before the 3 hours
               MinuteCount("gone", "2026-12-07T12:00", "failed", 9)]  # not loaded
    idle, r = recipe_rows(project.recipes, project.sources, {}, minutes, now)
    assert (idle.name, idle.trigger, idle.enabled, idle.chart) == (
        "idle", "webhook POST/PUT /webhooks/in/idle", False, None)
    assert r.trigger == "poll every 5m" and r.activity.last is None
    assert r.chart is not None and r.chart.peak == 4 and r.chart.total == 5
    assert r.chart.succeeded == "M178 21.00h1V28h-1ZM179 14.00h1V28h-1Z"
    assert r.chart.failed == "M179 0.00h1v14.00h-1Z"
    assert RecipeActivity("r").failure_rate is None


def test_filters_are_checked_and_times_read_as_utc() -> None:
    filters = JobFilters.from_query({"status": "done"})
    assert filters.error is not None and "queued, running, succeeded, failed" in filters.error
    filters = JobFilters.from_query({"since": "yesterday"})
    assert filters.error is not None and "2026-12-07T09:30" in filters.error
    filters = JobFilters.from_query({"since": "2026-12-07 10:30+01:00", "until": "2026-12-07T10:00",
                                     "recipe": " a b ", "before": "x"})
    assert filters.error is None
    assert (filters.since, filters.until) == ("2026-12-07T09:30:00", "2026-12-07T10:00:00")
    assert filters.link(before=None) == ("/ui/jobs?recipe=a+b&since=2026-12-07T09%3A30%3A00"
                                         "&until=2026-12-07T10%3A00%3A00")
    assert JobFilters().link() == "/ui/jobs"


def test_login_only_returns_to_our_own_pages() -> None:
    assert safe_next("/ui/jobs?status=failed") == "/ui/jobs?status=failed"
    for hostile in ("//evil.example/ui/", "https://evil.example/", "/ui\\..\\x", "/api/jobs", "",
                    None):
        assert safe_next(hostile) == "/ui/"
