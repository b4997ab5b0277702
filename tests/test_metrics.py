"""The loop's own counters export exactly what a prometheus_client Counter would."""

import re

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from runner.metrics import LoopCounter, LoopHistogram, Metrics


def without_created_values(text: str) -> str:
    return re.sub(r"(_created\{[^}]*\}) \S+", r"\1 <time>", text)


def test_a_loop_counter_reads_like_a_prometheus_counter() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    counter = LoopCounter("runner_webhooks", "Webhook requests", ["recipe", "status"], ours)
    reference = Counter("runner_webhooks", "Webhook requests", ["recipe", "status"], registry=theirs)
    for recipe, status in [("a", "202"), ("a", "202"), ("b", "401"), ("a", "503")]:
        counter.inc(recipe, status)
        reference.labels(recipe, status).inc()
    assert without_created_values(generate_latest(ours).decode()) == without_created_values(
        generate_latest(theirs).decode()
    )
    assert counter.value("a", "202") == 2 and counter.value("c", "200") == 0


def test_the_daemon_metrics_count_webhooks_and_jobs_by_label() -> None:
    metrics = Metrics()
    metrics.webhooks.inc("lead", "202")
    metrics.jobs.inc("lead", "failed")
    text = metrics.render().decode()
    assert 'runner_webhooks_total{recipe="lead",status="202"} 1.0' in text
    assert 'runner_jobs_total{outcome="failed",recipe="lead"} 1.0' in text


def test_a_loop_histogram_reads_like_a_prometheus_histogram() -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    buckets = (0.005, 0.01, 0.1, 1, 30)
    histogram = LoopHistogram("runner_step_duration_seconds", "Step duration", ["recipe"],
                              buckets, ours)
    reference = Histogram("runner_step_duration_seconds", "Step duration", ["recipe"],
                          registry=theirs, buckets=buckets)
    # on a bound, between bounds, below the first, past the last, and a second label set
    for recipe, seconds in [("a", 0.01), ("a", 0.05), ("a", 0.0), ("a", 45.0), ("b", 1.0)]:
        histogram.observe(seconds, recipe)
        reference.labels(recipe).observe(seconds)
    text = without_created_values(generate_latest(ours).decode())
    assert text == without_created_values(generate_latest(theirs).decode())
    assert 'runner_step_duration_seconds_bucket{le="0.01",recipe="a"} 2.0' in text
    assert 'runner_step_duration_seconds_count{recipe="a"} 4.0' in text
