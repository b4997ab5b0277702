"""How long `runner validate` takes on 100 recipes checked against GitHub's REST description.

    python benchmarks/bench_openapi.py [--recipes 100] [--runs 3] [--description FILE]

The description is the 13 MB api.github.com.json of the npm package @octokit/openapi (default:
RUNNER_TEST_OCTOKIT_OPENAPI, which .ci/run sets). Writes a connection naming it and N webhook
recipes of three steps each (a GET with a templated path, a GET with query parameters, a POST
with a JSON body; every step matched to an operation, its values and datapills checked), then
runs the real command in fresh processes: cold (an empty cache folder: the document parsed and
checked against the OpenAPI schema) and cached (the same folder again). Targets: < 5 s cold,
< 1.5 s cached. Each figure is the median of `--runs` runs; the cold ones each get a new folder.
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

CONNECTION = """kind: connection
name: github
base_url: https://api.github.com
auth: {type: header, headers: {Authorization: "Bearer {{ secrets.GITHUB_TOKEN }}"}}
openapi: specs/api.github.com.json
"""

RECIPE = """kind: recipe
name: triage-{n}
trigger: {{webhook: {{path: triage/{n}}}}}
steps:
  - id: repo
    request:
      connection: github
      method: GET
      url: /repos/{{{{ trigger.body.owner }}}}/{{{{ trigger.body.repo }}}}
  - id: issues
    request:
      connection: github
      method: GET
      url: /repos/{{{{ trigger.body.owner }}}}/{{{{ trigger.body.repo }}}}/issues
      params: {{state: open, per_page: 50, labels: "{{{{ trigger.body.label }}}}"}}
  - id: file
    request:
      connection: github
      method: POST
      url: /repos/{{{{ steps.repo.body.owner.login }}}}/{{{{ steps.repo.body.name }}}}/issues
      json:
        title: "Triage {n}: {{{{ steps.repo.body.full_name }}}}"
        body: "{{{{ trigger.body.text }}}}"
        labels: [triage]
"""


def run_validate(folder: Path, cache: Path) -> float:
    env = {**os.environ, "RUNNER_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "runner", "validate", str(folder)],
                          capture_output=True, text=True, timeout=600, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or "warning" in done.stdout:
        raise SystemExit(f"validate did not pass cleanly:\n{done.stdout}{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--description", default=os.environ.get("RUNNER_TEST_OCTOKIT_OPENAPI"))
    args = parser.parse_args()
    if not args.description:
        raise SystemExit("name the description: --description or RUNNER_TEST_OCTOKIT_OPENAPI")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "recipes"
        (folder / "specs").mkdir(parents=True)
        shutil.copy(args.description, folder / "specs" / "api.github.com.json")
        (folder / "github.yaml").write_text(CONNECTION)
        for n in range(args.recipes):
            (folder / f"triage-{n:03d}.yaml").write_text(RECIPE.format(n=n))
        cold = [run_validate(folder, Path(tmp) / f"cache-{n}") for n in range(args.runs)]
        warm = [run_validate(folder, Path(tmp) / "cache-0") for _ in range(args.runs)]
        plain = Path(tmp) / "plain"
        shutil.copytree(folder, plain)
        text = (plain / "github.yaml").read_text().replace(
            "openapi: specs/api.github.com.json\n", "")
        (plain / "github.yaml").write_text(text)
        without = [run_validate(plain, Path(tmp) / "cache-0") for _ in range(args.runs)]
    size = Path(args.description).stat().st_size / 1e6
    print(f"runner validate, {args.recipes} recipes x 3 steps against a {size:.0f} MB "
          f"description ({args.runs} runs each, median):")
    print(f"  cold (empty cache): {statistics.median(cold):.2f} s  (target < 5 s; "
          f"runs {', '.join(f'{t:.2f}' for t in cold)})")
    print(f"  cached:             {statistics.median(warm):.2f} s  (target < 1.5 s; "
          f"runs {', '.join(f'{t:.2f}' for t in warm)})")
    print(f"  without openapi:    {statistics.median(without):.2f} s  (the same recipes, "
          "no document)")


if __name__ == "__main__":
    main()
