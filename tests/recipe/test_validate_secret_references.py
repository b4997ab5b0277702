"""`runner validate` (and `--strict`) on secret references: container file names, invalid names
and optional secrets guarded by `default`, `is defined` or `'NAME' in secrets`."""

from __future__ import annotations

import json

import pytest

from runner.cli import main

CONNECTION = """kind: connection
name: db
base_url: https://api.example.com
headers:
  X-Db: "{{{{ {ref} }}}}"
"""


def validate(tmp_path, monkeypatch, capsys, text: str, *args: str) -> tuple[int, str, str]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RUNNER_SECRETS_DIR", str(tmp_path / "secrets"))
    (tmp_path / "c.yaml").write_text(text)
    code = main(["validate", "c.yaml", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("name", ["db-password", "token.txt"])
def test_strict_accepts_a_provided_secret_named_like_a_container_file(
    name, tmp_path, monkeypatch, capsys
):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / name).write_text("pg-pass-4471\n")
    text = CONNECTION.format(ref=f"secrets['{name}']")
    code, out, err = validate(tmp_path, monkeypatch, capsys, text, "--strict")
    assert (code, out) == (0, "") and err.startswith("ok: "), err  # the summary on stderr
    assert "pg-pass-4471" not in out + err


def test_strict_reports_a_missing_dashed_secret_at_its_location(tmp_path, monkeypatch, capsys):
    text = CONNECTION.format(ref="secrets['db-password']")
    code, out, err = validate(tmp_path, monkeypatch, capsys, text, "--strict", "--format", "json")
    assert code == 1 and err == ""
    [problem] = json.loads(out)
    assert (problem["file"], problem["line"], problem["column"], problem["code"]) == (
        "c.yaml", 5, 9, "missing-secret")
    assert problem["message"].startswith("secret 'db-password' is not provided")


@pytest.mark.parametrize("strict", [[], ["--strict"]])
@pytest.mark.parametrize("ref", ["secrets['../etc/passwd']", "secrets['a/b']", "secrets['.env']",
                                 "secrets[0]"])
def test_an_invalid_secret_name_is_a_diagnostic_not_a_traceback(
    ref, strict, tmp_path, monkeypatch, capsys
):
    code, out, err = validate(tmp_path, monkeypatch, capsys, CONNECTION.format(ref=ref), *strict)
    assert code == 1 and err == "1 error(s), 0 warning(s) in 1 file(s)\n"
    assert out.startswith("c.yaml:5:9: invalid secret name ")
    assert "a name is letters, digits, _, - and ., not starting with ." in out


OPTIONAL = """kind: recipe
name: optional
trigger: {webhook: {}}
steps:
  - id: send
    request:
      url: https://example.com/
      headers:
        X-Default: "{{ secrets.OPT_A | default('none') }}"
        X-Defined: "{{ secrets.OPT_B if secrets.OPT_B is defined else 'none' }}"
        X-In: "{{ secrets.OPT_C if 'OPT_C' in secrets else 'none' }}"
        X-Block: "{% if 'OPT_D' in secrets %}{{ secrets.OPT_D }}{% endif %}"
"""


def test_strict_accepts_guarded_optional_secrets(tmp_path, monkeypatch, capsys):
    code, out, err = validate(tmp_path, monkeypatch, capsys, OPTIONAL, "--strict")
    assert (code, out) == (0, "") and err.startswith("ok: "), err


def test_strict_still_fails_an_unguarded_use_beside_a_guarded_one(tmp_path, monkeypatch, capsys):
    text = OPTIONAL + '        X-Plain: "{{ secrets.OPT_A }}"\n'
    code, out, _ = validate(tmp_path, monkeypatch, capsys, text, "--strict")
    assert code == 1
    assert out.splitlines()[0].startswith("c.yaml:13:18: secret 'OPT_A' is not provided")
    assert "OPT_B" not in out and "OPT_C" not in out and "OPT_D" not in out


def test_strict_wants_the_secret_key_of_an_authorization_code_connection(
    tmp_path, monkeypatch, capsys
):
    text = """kind: connection
name: ac
base_url: https://api.example.com
auth:
  type: oauth2_authorization_code
  authorization_url: https://login.example.com/authorize
  token_url: https://login.example.com/token
  client_id: x
  client_secret: y
"""
    monkeypatch.delenv("RUNNER_SECRET_KEY", raising=False)
    code, out, _ = validate(tmp_path, monkeypatch, capsys, text, "--strict")
    assert code == 1
    assert ":5:9: secret 'RUNNER_SECRET_KEY' is not provided: it encrypts the tokens" in out
    assert validate(tmp_path, monkeypatch, capsys, text)[0] == 0  # not without --strict
    monkeypatch.setenv("RUNNER_SECRET_KEY", "short")  # provided, but too short to be a key
    code, out, _ = validate(tmp_path, monkeypatch, capsys, text, "--strict")
    assert code == 1 and ":5:9: RUNNER_SECRET_KEY is too short" in out
    monkeypatch.setenv("RUNNER_SECRET_KEY", "k" * 32)
    assert validate(tmp_path, monkeypatch, capsys, text, "--strict")[0] == 0
