"""1,000 poll recipes at `every: 1s` against a local endpoint: CPU, memory and schedule lag.

    python benchmarks/bench_polls.py [--recipes 1000] [--every 1s] [--duration 30]

Starts a local list endpoint (its own process) and `runner serve` with N poll recipes, lets it
settle, then measures over `--duration` seconds: the daemon's CPU use (percent of one core), its
RSS, polls per second, and how late polls started after they were due (the
`runner_poll_lag_seconds` histogram, p50/p99 interpolated within its buckets). Also prints the
idle RSS of `runner serve` on the bundled recipes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from suite import Proc, free_port, start  # noqa: E402

ENDPOINT = '''
import sys
from aiohttp import web

async def items(request):
    return web.json_response({"items": [{"id": 1, "updated": 1}, {"id": 2, "updated": 1}]})

app = web.Application()
app.router.add_get("/items", items)
app.router.add_get("/healthz", items)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
'''

RECIPE = """kind: recipe
name: poll-{n}
trigger:
  poll:
    connection: api
    every: {every}
    request: {{url: /items}}
    records: "{{{{ response.body['items'] }}}}"
    key: "{{{{ record.id }}}}"
    updated: "{{{{ record.updated }}}}"
steps:
  - id: noop
    request: {{connection: api, url: /items}}
"""


def buckets_of(text: str, name: str) -> list[tuple[float, float]]:
    return [(float("inf") if le == "+Inf" else float(le), float(v)) for le, v in
            re.findall(rf'^{name}_bucket{{le="([^"]+)"}} ([\d.e+]+)$', text, re.MULTILINE)]


def histogram_quantile(before: str, after: str, name: str, q: float) -> float:
    """The q-quantile of what a Prometheus histogram counted between two scrapes, interpolated
    linearly within its bucket (so the start-up burst, before `before`, does not count)."""
    old = dict(buckets_of(before, name))
    buckets = [(le, count - old.get(le, 0.0)) for le, count in buckets_of(after, name)]
    total = buckets[-1][1] if buckets else 0.0
    if not total:
        return float("nan")
    rank, lower, below = q * total, 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * (rank - below) / max(count - below, 1e-9)
        lower, below = upper, count
    return lower


def metrics(url: str) -> str:
    return urllib.request.urlopen(url + "/metrics", timeout=10).read().decode()


def counter(text: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? ([\d.e+]+)$", text, re.MULTILINE))


def idle_rss() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = start("idle", [sys.executable, "-m", "runner", "serve", str(ROOT / "recipes"), "--port",
                              str(port), "--store", f"sqlite:///{tmp}/idle.db"],
                     f"http://127.0.0.1:{port}", 0, {"RUNNER_LOG_LEVEL": "warning"}, cwd=tmp)
        time.sleep(3)
        rss = proc.rss_mib("VmRSS")
        proc.stop()
        return rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", type=int, default=1000)
    parser.add_argument("--every", default="1s")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=10.0)
    args = parser.parse_args()
    print(f"idle RSS of runner serve on the bundled recipes: {idle_rss():.1f} MiB", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="runner-polls-"))
    api_port = free_port()
    (tmp / "endpoint.py").write_text(ENDPOINT)
    procs: list[Proc] = []
    try:
        procs.append(start("api", [sys.executable, str(tmp / "endpoint.py"), str(api_port)],
                           f"http://127.0.0.1:{api_port}", 1))
        docs = tmp / "docs"
        docs.mkdir()
        (docs / "api.yaml").write_text(
            f"kind: connection\nname: api\nbase_url: http://127.0.0.1:{api_port}\nprivate_network: true\n")
        for n in range(args.recipes):
            (docs / f"poll-{n}.yaml").write_text(RECIPE.format(n=n, every=args.every))
        port = free_port()
        runner = start("runner", [sys.executable, "-m", "runner", "serve", str(docs), "--port", str(port),
                                  "--store", f"sqlite:///{tmp}/polls.db"],
                       f"http://127.0.0.1:{port}", 0, {"RUNNER_LOG_LEVEL": "warning", "RUNNER_DEMO": "false"},
                       cwd=str(tmp))
        procs.append(runner)
        time.sleep(args.settle)
        before, cpu0, t0 = metrics(runner.url), runner.cpu_seconds(), time.monotonic()
        time.sleep(args.duration)
        after, cpu1, t1 = metrics(runner.url), runner.cpu_seconds(), time.monotonic()
        report(args, before, after, (cpu1 - cpu0) / (t1 - t0), runner.rss_mib("VmRSS"), runner.rss_mib())
    finally:
        for proc in procs:
            proc.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def report(args: argparse.Namespace, before: str, after: str, cpu: float, rss: float, peak: float) -> None:
    polls = counter(after, "runner_polls_total") - counter(before, "runner_polls_total")
    failed = sum(float(v) for v in re.findall(r'^runner_polls_total{[^}]*outcome="failed"[^}]*} ([\d.e+]+)$', after, re.MULTILINE))
    print(f"{args.recipes} poll recipes, every {args.every}, measured over {args.duration:.0f} s "
          f"(after {args.settle:.0f} s to settle), on {os.cpu_count()} CPUs:")
    print(f"  polls/s {polls / args.duration:.0f} (expected {args.recipes / float(args.every.rstrip('s')):.0f}),"
          f" failed polls in all {failed:.0f}")
    print(f"  CPU {cpu * 100:.0f}% of one core, RSS {rss:.1f} MiB (peak {peak:.1f} MiB)")
    lag = [histogram_quantile(before, after, "runner_poll_lag_seconds", q) * 1000 for q in (0.5, 0.99)]
    print(f"  schedule lag (how late a poll started): p50 {lag[0]:.1f} ms, p99 {lag[1]:.1f} ms")


if __name__ == "__main__":
    main()
