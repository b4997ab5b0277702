"""Instructions per request: the webhook benchmark's systems, counted by Valgrind, not timed.

    python benchmarks/instructions.py [--requests 1000] [--only ABCD]

Why: on a shared 2-core VM the same timed run gives figures 15-30% apart, which hides any change
smaller than that. Valgrind's callgrind tool counts the instructions a process executes (all of
its threads, user space only: no kernel time, no waiting); the count for a fixed number of
requests repeats within about 1%, so a 3% gain shows. Requests/s and CPU time stay the figures
users care about (`suite.py`); this one is for telling whether a change helped.

Each system runs under `valgrind --tool=callgrind` with counting off; after a warm-up of 200
requests, counting is switched on (`callgrind_control -i on`), exactly `--requests` webhooks are
sent by `loadgen.py --count` from its own process (8 connections), counting is switched off and
the process stopped. Systems: A, B (the bare aiohttp handlers, on uvloop like `runner serve`),
C (`respond: sync`), D (`respond: accepted`, workers off). Under Valgrind a process runs some 50
times slower, so the store's group commits are smaller than at full speed: C and D are counted
with more commits per request than they have in `suite.py`.

Each thread is counted apart (`--separate-threads`) and shown after the total, the event loop's
thread first: for `runner serve`, the second is the SQLite store's writer thread.

Needs Valgrind (Debian package `valgrind`). Prints a table and the ratios (instructions of the
baseline over the system's: the throughput ratio if both were CPU-bound on the same core) and
writes `benchmarks/results/instructions.json`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from suite import RECIPE, free_port

PY = sys.executable
WARMUP = 200
CONNECTIONS = 8


def wait_healthy(url: str, proc: subprocess.Popen[bytes], seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{url}: the process exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url + "/healthz", timeout=2)
            return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not become healthy within {seconds:.0f} s under valgrind")


def send(url: str, count: int) -> None:
    out = subprocess.run(
        [PY, str(HERE / "loadgen.py"), url, "-c", str(CONNECTIONS), "--count", str(count)],
        capture_output=True, text=True, timeout=3600, check=True,
    ).stdout
    statuses = json.loads(out)["statuses"]
    bad = {s: n for s, n in statuses.items() if not 200 <= int(s) < 300}
    if bad:
        raise SystemExit(f"{url}: answers other than 2xx: {bad}")


def count(name: str, argv: list[str], port: int, requests: int, env: dict[str, str],
          cwd: Path, out: Path) -> list[int]:
    """Instructions each thread of the process executed while it served `requests` webhooks
    (the main thread first; threads that executed none left out)."""
    callgrind = ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
                 f"--callgrind-out-file={out}"]
    proc = subprocess.Popen([*callgrind, *argv], cwd=cwd, env={**os.environ, **env},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        send(url + "/webhooks/bench", WARMUP)
        subprocess.run(["callgrind_control", "-i", "on", str(proc.pid)], check=True,
                       capture_output=True, timeout=60)
        send(url + "/webhooks/bench", requests)
        subprocess.run(["callgrind_control", "-i", "off", str(proc.pid)], check=True,
                       capture_output=True, timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=600)
    # One file per thread: <out>-01 (the main thread), <out>-02, ...
    files = sorted(out.parent.glob(out.name + "-*"), key=lambda f: int(f.name.rsplit("-", 1)[1]))
    if not files:
        raise SystemExit(f"{out}: callgrind wrote no output")
    return [n for n in (total_instructions(f) for f in files) if n > 0]


def total_instructions(path: Path) -> int:
    """The `totals:` line callgrind writes at the end of its output file."""
    found = re.search(r"^totals:\s+(\d+)", path.read_text(errors="replace"), re.MULTILINE)
    if found is None:
        raise SystemExit(f"{path}: no totals line")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--only", default="ABCD", help="systems to count, e.g. CD")
    args = parser.parse_args()
    if not (shutil.which("valgrind") and shutil.which("callgrind_control")):
        raise SystemExit("needs valgrind (Debian package `valgrind`)")
    tmp = Path(tempfile.mkdtemp(prefix="runner-instructions-"))
    sink_port = free_port()
    sink = subprocess.Popen([PY, str(HERE / "systems" / "sink.py"), str(sink_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sink_url = f"http://127.0.0.1:{sink_port}"
    results: dict[str, int] = {}
    threads: dict[str, list[float]] = {}
    try:
        wait_healthy(sink_url, sink, 30)
        for name in args.only:
            port = free_port()
            env: dict[str, str] = {}
            if name == "A":
                argv = [PY, str(HERE / "systems" / "bare_ok.py"), str(port), "uvloop"]
            elif name == "B":
                argv = [PY, str(HERE / "systems" / "bare_forward.py"), str(port), sink_url, "uvloop"]
            else:
                respond, workers = ("sync", 64) if name == "C" else ("accepted", 0)
                folder = tmp / name
                folder.mkdir()
                (folder / "bench.yaml").write_text(RECIPE.format(sink=sink_url, respond=respond))
                argv = [PY, "-m", "runner", "serve", str(folder), "--port", str(port),
                        "--store", f"sqlite:///{tmp}/{name}.db"]
                env = {"RUNNER_WORKERS": str(workers), "RUNNER_DEMO": "false"}
            per_thread = count(name, argv, port, args.requests, env, tmp, tmp / f"{name}.callgrind")
            results[name] = total = sum(per_thread)
            threads[name] = [n / args.requests for n in per_thread]
            split = " + ".join(f"{n:,.0f}" for n in threads[name])
            print(f"{name}: {total / args.requests:,.0f} instructions per request"
                  f" (by thread, main first: {split})", flush=True)
    finally:
        sink.terminate()
        sink.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    ratios = {f"{s}/{b}": results[b] / results[s]
              for s, b in (("C", "B"), ("D", "A")) if s in results and b in results}
    for label, value in ratios.items():
        print(f"{label} (baseline's instructions over the system's): {value:.2f}")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    per_request = {k: v / args.requests for k, v in results.items()}
    (out / "instructions.json").write_text(json.dumps(
        {"requests": args.requests, "per_request": per_request, "per_thread": threads,
         "ratios": ratios}, indent=2))


if __name__ == "__main__":
    main()
