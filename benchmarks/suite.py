"""The webhook benchmark: runner beside bare aiohttp, in one run, on this machine.

    python benchmarks/suite.py [--duration 10] [--rounds 3] [--connections 32] [--drain-seconds 10]

Systems (each a separate process pinned to CPU 0; the sink and the load generator share CPU 1):
  A  bare aiohttp answering 200
  B  bare aiohttp rendering the JSON body and POSTing it to the sink, answering after it
  C  `runner serve`, a webhook recipe with `respond: sync` doing the same (one step to the sink)
  D  `runner serve`, the same recipe with `respond: accepted`: 202 after the durable commit
     (workers off, so the figure is acceptance alone)
  E  `runner serve` draining the backlog D left: jobs completed per second, the median of
     `--rounds` windows of `--drain-seconds` (default: `--duration`), each counted by
     `runner_jobs_total` at its two ends

Reference systems, on by default (`--no-uvloop-baselines` leaves them out):
  Au  system A on uvloop        Bu  system B on uvloop
`runner serve` runs on uvloop by default (RUNNER_EVENT_LOOP); the targets are set against the
plain A and B, and the ratios against Au and Bu are printed beside them, so that what the runner
gains from its event loop can be told from what it gains from its own code.

Rounds interleave the systems (A B C D, A B C D, ...) after a warm-up, so drift on a noisy
machine hits all of them alike. Every figure: requests/s, p50/p99 latency, CPU ms per request
(from the server process's own CPU time), peak RSS. Prints a table and writes
`benchmarks/results/suite.json`. Uses `wrk` when installed (Debian package `wrk`), else
`benchmarks/loadgen.py` in its own process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
PY = sys.executable
TICK = os.sysconf("SC_CLK_TCK")

RECIPE = """kind: connection
name: sink
base_url: {sink}
private_network: true
---
kind: recipe
name: bench
concurrency: 32       # jobs of this recipe at once; the default 1 keeps trigger order instead
trigger:
  webhook: {{path: bench, respond: {respond}}}
steps:
  - id: forward
    request:
      connection: sink
      method: POST
      url: /sink
      json:
        id: "{{{{ trigger.body.id }}}}"
        name: "{{{{ trigger.body.name | upper }}}}"
        amount: "{{{{ trigger.body.amount }}}}"
        tags: "{{{{ trigger.body.tags }}}}"
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: int, argv: list[str]) -> list[str]:
    return (["taskset", "-c", str(cpu)] if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > 1 else []) + argv  # type: ignore[operator]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    url: str

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.popen.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def rss_mib(self, key: str = "VmHWM") -> float:
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.popen.terminate()
        try:
            self.popen.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.popen.kill()


def start(name: str, argv: list[str], url: str, cpu: int, env: dict[str, str] | None = None,
          cwd: str | None = None) -> Proc:
    errors = tempfile.TemporaryFile()  # a file, not a pipe: a full pipe would stall the server
    popen = subprocess.Popen(pinned(cpu, argv), stdout=subprocess.DEVNULL, stderr=errors,
                             env={**os.environ, **(env or {})}, cwd=cwd)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            return Proc(name, popen, url)
        except OSError:
            if popen.poll() is not None:
                errors.seek(0)
                raise SystemExit(f"{name} exited: {errors.read().decode()}")
            time.sleep(0.1)
    raise SystemExit(f"{name} did not become healthy")


def load(url: str, duration: float, connections: int) -> dict[str, float]:
    if shutil.which("wrk"):
        out = subprocess.run(
            pinned(1, ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency",
                       "-s", str(HERE / "systems" / "post.lua"), url]),
            capture_output=True, text=True, timeout=duration + 60,
        ).stdout
        return parse_wrk(out)
    out = subprocess.run(pinned(1, [PY, str(HERE / "loadgen.py"), url, "-c", str(connections),
                                    "-d", str(duration)]),
                         capture_output=True, text=True, timeout=duration + 60).stdout
    data = json.loads(out)
    errors = sum(n for status, n in data["statuses"].items() if not 200 <= int(status) < 300)
    return {"requests": data["requests"], "rps": data["rps"], "p50_ms": data["p50_ms"],
            "p99_ms": data["p99_ms"], "errors": errors}


def parse_wrk(text: str) -> dict[str, float]:
    def ms(value: str) -> float:
        found = re.match(r"([\d.]+)(us|ms|s|m)$", value)
        if found is None:
            return float("nan")
        number, unit = found.groups()
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]

    found = re.search(r"(\d+) requests in", text)
    if found is None:
        raise SystemExit(f"wrk printed no result:\n{text}")
    requests = int(found.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(g) for g in socket_errors.groups())
    return {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),  # type: ignore[union-attr]
        "p50_ms": ms(re.search(r"50%\s+(\S+)", text).group(1)),  # type: ignore[union-attr]
        "p99_ms": ms(re.search(r"99%\s+(\S+)", text).group(1)),  # type: ignore[union-attr]
        "errors": errors,
    }


@dataclass
class Figures:
    rounds: list[dict[str, float]] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        keys = ("rps", "p50_ms", "p99_ms", "cpu_ms_per_req", "errors")
        # A round whose latency line wrk printed in an unexpected form gives NaN: skip it.
        result = {k: _median([r[k] for r in self.rounds]) for k in keys}
        result["peak_rss_mib"] = max(r["peak_rss_mib"] for r in self.rounds)
        return result


def _median(values: list[float]) -> float:
    known = [v for v in values if v == v]
    return statistics.median(known) if known else float("nan")


def measure(proc: Proc, path: str, args: argparse.Namespace) -> dict[str, float]:
    before = proc.cpu_seconds()
    result = load(proc.url + path, args.duration, args.connections)
    used = proc.cpu_seconds() - before
    result["cpu_ms_per_req"] = used * 1000 / max(1, result["requests"])
    result["peak_rss_mib"] = proc.rss_mib()
    return result


def runner_serve(tmp: Path, name: str, respond: str, sink: str, workers: int, store: str) -> Proc:
    folder = tmp / name
    folder.mkdir(exist_ok=True)
    (folder / "bench.yaml").write_text(RECIPE.format(sink=sink, respond=respond))
    port = free_port()
    env = {"RUNNER_WORKERS": str(workers), "RUNNER_DEMO": "false"}  # default logging: JSON lines
    return start(name, [PY, "-m", "runner", "serve", str(folder), "--port", str(port),
                        "--store", store], f"http://127.0.0.1:{port}", 0, env, cwd=str(tmp))


def drain(tmp: Path, sink: str, store: str, seconds: float, windows: int) -> dict[str, float]:
    """E: a runner with workers on the store D filled; the jobs it completes per second, the
    median of `windows` consecutive windows of `seconds` (one window would be at the mercy of
    whatever else the machine did in it, as a single round would).

    Counted from `runner_jobs_total` at the start and the end of each window: two scrapes, so
    measuring does not load the process measured (every scrape also counts the queue, a scan of
    the whole backlog, which is why the backlog is checked only after the last window). The
    backlog must outlast the windows, or the rate reads low: that is reported."""
    proc = runner_serve(tmp, "E", "accepted", sink, 64, store)
    figures = Figures()
    for window in range(windows):
        done, cpu0, started = jobs_done(proc.url), proc.cpu_seconds(), time.perf_counter()
        time.sleep(seconds)
        done = jobs_done(proc.url) - done
        cpu, elapsed = proc.cpu_seconds() - cpu0, time.perf_counter() - started
        result = {"requests": done, "rps": done / elapsed, "cpu_ms_per_req": cpu * 1000 / max(1, done),
                  "p50_ms": float("nan"), "p99_ms": float("nan"), "errors": 0.0,
                  "peak_rss_mib": proc.rss_mib()}
        figures.rounds.append(result)
        print(f"window {window + 1} E: {result['rps']:.0f} jobs/s, "
              f"{result['cpu_ms_per_req']:.3f} CPU ms/job", flush=True)
    left = queue_depth(proc.url)
    if left == 0:
        print(f"E: the backlog ran out within the {windows} windows of {seconds:g} s: the rate "
              "reads low; give D more rounds or a longer --duration", flush=True)
    proc.stop()
    return {**figures.summary(), "backlog_left": left}


def jobs_done(url: str) -> float:
    """Jobs this runner finished so far: `runner_jobs_total` summed over its labels."""
    text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
    samples = re.findall(r"^runner_jobs_total\{[^}]*\} (\S+)$", text, re.MULTILINE)
    return sum(float(value) for value in samples)


def metric(url: str, name: str) -> float:
    text = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
    match = re.search(rf"^{name} ([\d.e+-]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def queue_depth(url: str) -> int:
    return int(metric(url, "runner_queue_depth"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--drain-seconds", type=float, default=None,
                        help="each of E's measuring windows (default: --duration)")
    parser.add_argument("--only", default="ABCDE", help="systems to run, e.g. ABC")
    parser.add_argument("--uvloop-baselines", action=argparse.BooleanOptionalAction, default=True,
                        help="also run A and B on uvloop (Au, Bu)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="runner-bench-"))
    sink_port = free_port()
    sink_url = f"http://127.0.0.1:{sink_port}"
    procs: dict[str, Proc] = {"sink": start("sink", [PY, str(HERE / "systems" / "sink.py"), str(sink_port)], sink_url, 1)}
    try:
        systems = build_systems(tmp, sink_url, args.only, procs, args.uvloop_baselines)
        results = run_rounds(systems, args)
        if "E" in args.only and "D" in systems:
            systems["D"].stop()
            window = args.duration if args.drain_seconds is None else args.drain_seconds
            results["E"] = drain(tmp, sink_url, f"sqlite:///{tmp}/D.db", window, args.rounds)
        report(results, args)
    finally:
        for proc in procs.values():
            proc.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def build_systems(tmp: Path, sink: str, only: str, procs: dict[str, Proc],
                  uvloop_baselines: bool) -> dict[str, Proc]:
    systems: dict[str, Proc] = {}
    loops = ["", "uvloop"] if uvloop_baselines else [""]
    for loop in loops:
        suffix = "u" if loop else ""
        if "A" in only:
            port = free_port()
            argv = [PY, str(HERE / "systems" / "bare_ok.py"), str(port), *([loop] if loop else [])]
            systems["A" + suffix] = start("A" + suffix, argv, f"http://127.0.0.1:{port}", 0)
        if "B" in only:
            port = free_port()
            argv = [PY, str(HERE / "systems" / "bare_forward.py"), str(port), sink, *([loop] if loop else [])]
            systems["B" + suffix] = start("B" + suffix, argv, f"http://127.0.0.1:{port}", 0)
    if "C" in only:
        systems["C"] = runner_serve(tmp, "C", "sync", sink, 64, f"sqlite:///{tmp}/C.db")
    if "D" in only or "E" in only:
        systems["D"] = runner_serve(tmp, "D", "accepted", sink, 0, f"sqlite:///{tmp}/D.db")
    procs.update(systems)
    return systems


def run_rounds(systems: dict[str, Proc], args: argparse.Namespace) -> dict[str, object]:
    figures = {name: Figures() for name in systems}
    for proc in systems.values():  # warm-up: imports, JIT-free caches, connection pools
        load(proc.url + "/webhooks/bench", args.warmup, args.connections)
    for round_no in range(args.rounds):
        for name, proc in systems.items():
            result = measure(proc, "/webhooks/bench", args)
            figures[name].rounds.append(result)
            print(f"round {round_no + 1} {name}: {result['rps']:.0f} req/s, p99 {result['p99_ms']:.1f} ms, "
                  f"{result['cpu_ms_per_req']:.3f} CPU ms/req, errors {result['errors']:.0f}", flush=True)
    return {name: f.summary() for name, f in figures.items()}


# (system, baseline, figure, unit, target): the targets, against plain A and B; the same
# ratios against Au and Bu are printed for reference.
RATIOS = [
    ("C", "B", "rps", "req/s", ">= 0.6"),
    ("C", "B", "p99_ms", "p99", "<= 2"),
    ("D", "A", "rps", "req/s", ">= 0.5"),
    ("E", "B", "rps", "jobs/s", ">= 0.5"),
]


def report(results: dict[str, object], args: argparse.Namespace) -> None:
    names = {"A": "bare aiohttp, 200", "B": "bare aiohttp, render + POST to sink",
             "Au": "bare aiohttp on uvloop, 200", "Bu": "bare aiohttp on uvloop, render + POST",
             "C": "runner serve, respond: sync", "D": "runner serve, accepted (202 after commit)",
             "E": "runner serve, drain backlog (jobs/s)"}
    print(f"\n{'system':45} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/req':>11} {'peak RSS MiB':>13}")
    for key, data in results.items():
        d = data  # type: ignore[assignment]
        print(f"{key:2} {names[key]:42} {d['rps']:9.0f} {d.get('p50_ms', float('nan')):8.2f} "
              f"{d.get('p99_ms', float('nan')):8.2f} {d['cpu_ms_per_req']:11.3f} {d['peak_rss_mib']:13.1f}")
    ratios = {}
    for system, baseline, figure, unit, target in RATIOS:
        for suffix, note in (("", f"target {target}"), ("u", "for reference")):
            base = baseline + suffix
            if system in results and base in results:
                value = results[system][figure] / results[base][figure]  # type: ignore[index]
                ratios[f"{system}/{base} {unit} ({note})"] = value
                if figure == "rps" and not suffix:
                    # The same ratio from CPU time per request, the figure that moves least
                    # between runs on a busy machine: what the ratio would be, both CPU-bound.
                    cpu = results[base]["cpu_ms_per_req"] / results[system]["cpu_ms_per_req"]  # type: ignore[index]
                    ratios[f"{system}/{base} by CPU ms per request (steadier)"] = cpu
    for label, value in ratios.items():
        print(f"{label}: {value:.2f}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "load_generator": "wrk" if shutil.which("wrk") else "loadgen.py"}
    (out / "suite.json").write_text(json.dumps({"args": vars(args), "machine": machine, "results": results, "ratios": ratios}, indent=2))
    print(f"\nwritten: {out / 'suite.json'}")


if __name__ == "__main__":
    main()
