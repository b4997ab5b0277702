"""Prometheus metrics of the daemon, in a registry of its own (so tests can build several)."""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from itertools import accumulate
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

STEP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)  # seconds


class LoopCounter:
    """A labelled counter for what the event loop counts per request and per job.

    Why not `prometheus_client.Counter`: its `inc` takes a lock and goes through a value object
    (about 9,000 instructions a webhook, 2% of an accepted webhook's cost); here an increment is
    a dict update. Safe because only the event loop's thread increments and scrapes. Exported
    exactly as a `Counter` with the same name and labels is: `<name>_total` and `<name>_created`.
    """

    def __init__(self, name: str, documentation: str, labelnames: list[str],
                 registry: CollectorRegistry) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        self._counts: dict[tuple[str, ...], list[float]] = {}  # labels -> [value, created]
        registry.register(self)

    def inc(self, *labels: str) -> None:
        entry = self._counts.get(labels)
        if entry is None:
            self._counts[labels] = [1.0, time.time()]
        else:
            entry[0] += 1

    def value(self, *labels: str) -> float:
        entry = self._counts.get(labels)
        return 0.0 if entry is None else entry[0]

    def describe(self) -> list[CounterMetricFamily]:
        return [CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, (value, created) in list(self._counts.items()):
            family.add_metric(list(labels), value, created=created)
        yield family


class LoopHistogram:
    """A labelled histogram the event loop observes into: a duration per step of every job.

    Why not `prometheus_client.Histogram`: an observation through a label child walks the
    bounds in Python and takes a lock for the sum and one for the bucket (about 11,000
    instructions a step); here it is a bisection and two list updates. Same single-thread rule
    as `LoopCounter`. Exported exactly as a `Histogram` with the same name, labels and buckets is:
    `<name>_bucket` (cumulative, `le` up to `+Inf`), `<name>_count`, `<name>_sum`, `<name>_created`.
    """

    def __init__(self, name: str, documentation: str, labelnames: list[str],
                 buckets: Sequence[float], registry: CollectorRegistry) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        self._bounds = [*sorted(float(b) for b in buckets), float("inf")]
        self._les = [floatToGoString(b) for b in self._bounds]
        # labels -> [observations per bucket (not cumulative), sum, created]
        self._series: dict[tuple[str, ...], list[Any]] = {}
        registry.register(self)

    def observe(self, value: float, *labels: str) -> None:
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = [[0] * len(self._bounds), 0.0, time.time()]
        series[0][bisect_left(self._bounds, value)] += 1  # the first bucket whose bound >= value
        series[1] += value

    def describe(self) -> list[HistogramMetricFamily]:
        return [HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)]

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, (counts, total, created) in list(self._series.items()):
            cumulative = [float(n) for n in accumulate(counts)]
            family.add_metric(list(labels), list(zip(self._les, cumulative)), total)
            family.add_sample(f"{self.name}_created", dict(zip(self.labelnames, labels)), created)
        yield family


class Metrics:
    """Every metric the daemon exports; names start with `runner_`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.webhooks = LoopCounter(
            "runner_webhooks", "Webhook requests by recipe and HTTP status", ["recipe", "status"], r
        )
        self.jobs = LoopCounter(
            "runner_jobs", "Finished jobs by recipe and outcome", ["recipe", "outcome"], r
        )
        self.step_seconds = LoopHistogram(
            "runner_step_duration_seconds", "Step duration", ["recipe"], STEP_BUCKETS, r
        )
        self.queue_depth = Gauge("runner_queue_depth", "Jobs queued, not yet running", registry=r)
        self.running = Gauge("runner_jobs_running", "Jobs running in this process", registry=r)
        self.polls = Counter(
            "runner_polls", "Poll runs by recipe and outcome", ["recipe", "outcome"], registry=r
        )
        self.poll_records = Counter(
            "runner_poll_records", "Records emitted by polls", ["recipe"], registry=r
        )
        self.poll_lag = Histogram(
            "runner_poll_lag_seconds", "How late a poll started after it was due", registry=r,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5),
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
