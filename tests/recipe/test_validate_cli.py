"""`runner validate` as users and CI call it: formats, exit codes, strict secrets, default folders."""

import json
import subprocess
import sys
import time
from pathlib import Path

from runner.cli import main

ROOT = Path(__file__).resolve().parents[2]
BAD = "kind: recipe\nname: r\ntrigger: {webhook: {}}\nsteps:\n  - id: a\n    request: {methd: GET, url: https://x}\n"
SECRET = (
    "kind: connection\nname: api\nbase_url: https://api.example.com\n"
    "auth: {type: header, headers: {X-Key: '{{ secrets.API_KEY_FOR_TEST }}'}}\n"
)


def run(args, capsys):
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_format_lists_every_problem(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_text(BAD)
    (tmp_path / "b.yaml").write_text("kind: connection\nname: Bad\n")
    code, out, _ = run(["validate", "a.yaml", "b.yaml", "--format", "json"], capsys)
    assert code == 1
    problems = json.loads(out)
    assert [(p["file"], p["line"], p["column"]) for p in problems] == [("a.yaml", 6, 15), ("b.yaml", 2, 7)]
    assert set(problems[0]) >= {"file", "line", "column", "message"}


def test_github_format_prints_annotations(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_text(BAD)
    code, out, _ = run(["validate", "a.yaml", "--format", "github"], capsys)
    assert code == 1
    assert out.startswith("::error file=a.yaml,line=6,col=15::unknown key 'methd'")


def test_missing_path_is_a_usage_error(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["validate", "nope/"], capsys)
    assert code == 2 and "path 'nope/' does not exist" in err


def test_default_folders_and_none_present(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(["validate"], capsys)
    assert code == 0 and out == "" and "ok: 0 document(s) in 0 file(s)" in err
    (tmp_path / "connections").mkdir()
    (tmp_path / "connections" / "api.yml").write_text(SECRET)
    code, out, err = run(["validate"], capsys)
    assert code == 0 and out == "" and "ok: 1 document(s) in 1 file(s)" in err


def test_strict_fails_on_secret_not_provided_without_printing_values(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNNER_SECRETS_DIR", str(tmp_path / "secrets"))
    monkeypatch.delenv("API_KEY_FOR_TEST", raising=False)
    (tmp_path / "c.yaml").write_text(SECRET)
    assert run(["validate", "c.yaml"], capsys)[0] == 0
    code, out, _ = run(["validate", "c.yaml", "--strict"], capsys)
    assert code == 1 and "c.yaml:4:39: secret 'API_KEY_FOR_TEST' is not provided" in out
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "API_KEY_FOR_TEST").write_text("s3cr3t-value\n")
    code, out, _ = run(["validate", "c.yaml", "--strict"], capsys)
    assert code == 0 and "s3cr3t" not in out


def test_usage_errors_exit_2(capsys):
    assert run(["validate", "--format", "xml"], capsys)[0] == 2
    assert run(["frobnicate"], capsys)[0] == 2


def test_bundled_recipes_and_examples_validate(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    for folder in ("recipes", "examples/jira", "examples/eventbrite", "examples/webhooks"):
        code, out, _ = run(["validate", folder], capsys)
        assert code == 0, out


def test_validate_one_file_is_fast_and_imports_no_server(tmp_path):
    (tmp_path / "a.yaml").write_text(SECRET)
    probe = (
        "import sys, runner.cli as c; code = c.main(['validate', sys.argv[1]]);"
        "bad = [m for m in ('aiohttp', 'sqlite3', 'aiohttp.web') if m in sys.modules];"
        "print('IMPORTED', bad); sys.exit(code)"
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "a.yaml")],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "IMPORTED []" in done.stdout
    # The 0.5 s figure is measured in benchmarks/; here only a generous sanity bound.
    assert time.monotonic() - started < 10


def test_python_dash_m_runner_works():
    done = subprocess.run([sys.executable, "-m", "runner", "--version"], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0 and done.stdout.startswith("runner ")


CONTRACT_WEBHOOK = """kind: recipe
name: new-lead-to-venue
trigger:
  webhook:
    path: new-lead
    methods: [POST]
    auth:
      type: hmac
      secret: "{{ secrets.FORM_SECRET }}"
      header: X-Signature
      algorithm: sha256
      encoding: hex
      prefix: "sha256="
    tolerance: 5m
    max_body: 1MiB
    dedup: "{{ trigger.headers['X-GitHub-Delivery'] }}"
    respond: accepted
    response: {status: 200, body: {venue_id: "{{ steps.create_venue.body.id }}"}}
steps:
  - id: create_venue
    request: {method: POST, url: "https://example.com/venues", json: {name: "{{ trigger.body.venue }}"}}
"""


def test_the_contracts_webhook_example_is_clean_in_every_format(tmp_path, capsys, monkeypatch):
    """Written as the language shows it (`respond: accepted` with a `response`): no problem, not
    even a warning, so `--format json` prints [] and `github` prints no annotation."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "wh.yaml").write_text(CONTRACT_WEBHOOK)
    assert run(["validate", "wh.yaml", "--format", "json"], capsys)[:2] == (0, "[]\n")
    assert run(["validate", "wh.yaml", "--format", "github"], capsys)[:2] == (0, "")
