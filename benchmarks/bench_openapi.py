"""How long `runner validate` takes for 100 recipes checked against the GitHub REST description.

    RUNNER_TEST_OCTOKIT_OPENAPI=.../api.github.com.json python benchmarks/bench_openapi.py
        [--recipes 100] [--runs 3]

Writes a connection naming the 13 MB description (npm `@octokit/openapi`, installed by .ci/run)
and N recipes of four steps each (create an issue with a JSON body, comment on it with a
datapill into the created issue's response schema, search with query parameters, read a
repository), then runs the real command in fresh processes: cold (an empty cache folder: the
document is parsed, checked against the meta-schema and cached; target < 5 s) and cached (the
same folder again; target < 1.5 s). Each figure is the median of `--runs` runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RECIPE = """kind: recipe
name: triage-{n}
trigger:
  webhook: {{path: triage/{n}}}
steps:
  - id: create_issue
    request:
      connection: github
      method: POST
      url: /repos/{{{{ trigger.body.owner }}}}/{{{{ trigger.body.repo }}}}/issues
      json:
        title: "Lead {n}: {{{{ trigger.body.title }}}}"
        labels: [lead, "{{{{ trigger.body.source }}}}"]
        assignees: [octocat]
  - id: comment
    request:
      connection: github
      method: POST
      url: /repos/{{{{ trigger.body.owner }}}}/{{{{ trigger.body.repo }}}}/issues/{{{{ steps.create_issue.body.number }}}}/comments
      json: {{body: "Opened by {{{{ steps.create_issue.body.user.login }}}}"}}
  - id: search
    request:
      connection: github
      method: GET
      url: /search/issues
      params: {{q: "repo:octocat/hello {{{{ trigger.body.title }}}}", per_page: 10, order: desc}}
  - id: repository
    request: {{connection: github, method: GET, url: /repos/octocat/hello-{n}}}
"""


def run_validate(folder: Path, cache: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "runner", "validate", str(folder), "--strict"],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "RUNNER_CACHE_DIR": str(cache)})
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"validate failed:\n{done.stdout}{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    description = os.environ.get("RUNNER_TEST_OCTOKIT_OPENAPI")
    if not description or not Path(description).is_file():
        raise SystemExit("set RUNNER_TEST_OCTOKIT_OPENAPI to @octokit/openapi's "
                         "generated/api.github.com.json (.ci/run installs it)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "project"
        folder.mkdir()
        (folder / "github.yaml").write_text(
            "kind: connection\nname: github\nbase_url: https://api.github.com\n"
            f"openapi: {Path(description).resolve()}\n")
        for n in range(args.recipes):
            (folder / f"triage-{n:03d}.yaml").write_text(RECIPE.format(n=n))
        cache = Path(tmp) / "cache"
        cold, cached = [], []
        for _ in range(args.runs):
            shutil.rmtree(cache, ignore_errors=True)
            cold.append(run_validate(folder, cache))
            cached.append(run_validate(folder, cache))
    size = Path(description).stat().st_size / 1e6
    print(f"runner validate, {args.recipes} recipes against the GitHub description "
          f"({size:.0f} MB): cold {statistics.median(cold):.2f} s (target < 5 s), "
          f"cached {statistics.median(cached):.2f} s (target < 1.5 s); "
          f"median of {args.runs} runs")


if __name__ == "__main__":
    main()
