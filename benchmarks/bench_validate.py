"""How long `runner validate` takes, and how much memory it needs.

    python benchmarks/bench_validate.py [--files 1000] [--runs 5]

Writes N recipe files (a webhook recipe with three templated steps each) plus one connection into
a temporary folder, then runs the real command in fresh processes: one file (median of `--runs`
starts, the figure a pre-commit hook or an editor feels), all N files, and all N files again with
a recorded sample beside each (`samples/<recipe>.json`, so every datapill path is also walked
down a sample; the target: within 1.3x of the run without). The N-file figures are the median of
three runs. Peak memory is the child process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONNECTION = """kind: connection
name: api
base_url: https://api.example.com/v1
auth: {type: header, headers: {Authorization: "Bearer {{ secrets.API_TOKEN }}"}}
retry: {attempts: 3, on: [429, 503]}
"""

RECIPE = """# yaml-language-server: $schema=../schemas/runner.schema.json
kind: recipe
name: recipe-{n}
vars: {{org: "{n}"}}
trigger:
  webhook: {{path: hooks/{n}, auth: {{type: github, secret: "{{{{ secrets.HOOK_SECRET }}}}"}}}}
steps:
  - id: create
    request:
      connection: api
      method: POST
      url: /orgs/{{{{ vars.org }}}}/items
      json:
        name: "{{{{ trigger.body.name }}}}"
        email: "{{{{ trigger.body.email | lower }}}}"
        tags: "{{{{ trigger.body.tags | default([]) }}}}"
  - id: fetch
    if: "{{{{ steps.create.ok }}}}"
    request: {{connection: api, url: "/items/{{{{ steps.create.body.id }}}}"}}
  - id: notify
    for_each: "{{{{ trigger.body.watchers }}}}"
    request:
      method: POST
      url: https://hooks.example.com/notify
      json: {{to: "{{{{ item }}}}", item: "{{{{ steps.fetch.body.id }}}}", n: "{{{{ loop.index }}}}"}}
"""


def sample(n: int) -> str:
    """What `runner sample` would have recorded for recipe-N: every path the recipe reads."""
    view = {"status": 200, "headers": {"Content-Type": "application/json"}}
    item = {"id": f"it-{n}", "name": "Ada", "owner": {"login": "ada"}, "labels": ["a", "b"]}
    return json.dumps({
        "trigger": {"body": {"name": "Ada", "email": "ADA@example.com", "tags": ["x"],
                             "watchers": ["a@example.com", "b@example.com"]},
                    "headers": {"Content-Type": "application/json"}, "method": "POST",
                    "query": {}, "received_at": "2026-12-07T10:00:00Z"},
        "steps": {"create": {**view, "body": item}, "fetch": {**view, "body": item},
                  "notify": [{**view, "body": {"sent": True}}] * 2},
    }, indent=2, sort_keys=True)


def run_validate(path: Path) -> tuple[float, int, int]:
    """Seconds, exit code and peak RSS (KiB) of one `runner validate PATH` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "runner", "validate", str(path)],
                          capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if done.returncode != 0:
        raise SystemExit(f"validate failed:\n{done.stdout}{done.stderr}")
    return elapsed, done.returncode, max(peak, before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "recipes"
        folder.mkdir()
        (folder / "connection.yaml").write_text(CONNECTION)
        for n in range(args.files):
            (folder / f"recipe-{n:04d}.yaml").write_text(RECIPE.format(n=n))
        single = Path(tmp) / "one"
        single.mkdir()
        (single / "connection.yaml").write_text(CONNECTION)
        (single / "recipe.yaml").write_text(RECIPE.format(n=1))
        one = [run_validate(single)[0] for _ in range(args.runs)]
        many, peak = _median_of_three(folder)
        samples = folder / "samples"
        samples.mkdir()
        for n in range(args.files):
            (samples / f"recipe-{n}.json").write_text(sample(n))
        sampled, sampled_peak = _median_of_three(folder)
    print(f"runner validate, 1 recipe (+1 connection): median {statistics.median(one):.3f} s "
          f"(min {min(one):.3f}, max {max(one):.3f}, {args.runs} runs)")
    print(f"runner validate, {args.files} recipes: {many:.2f} s, "
          f"{args.files / many:.0f} files/s, peak RSS {peak / 1024:.0f} MiB")
    print(f"runner validate, {args.files} recipes with samples: {sampled:.2f} s "
          f"({sampled / many:.2f}x; target 1.3x), peak RSS {sampled_peak / 1024:.0f} MiB")


def _median_of_three(folder: Path) -> tuple[float, int]:
    runs = [run_validate(folder) for _ in range(3)]
    return statistics.median(r[0] for r in runs), max(r[2] for r in runs)


if __name__ == "__main__":
    main()
