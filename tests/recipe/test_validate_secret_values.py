"""`runner validate` never quotes a secret's value, and reports names used twice even when one of
the documents has schema errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.cli import main

TOKEN = "hunter2-pasted-token"

LEAK = f"""kind: recipe
name: leak
vars: {{k: "{{{{ secrets.API_TOKEN }}}}"}}
trigger: {{webhook: {{}}}}
steps:
  - id: a
    request: {{method: GET, url: "https://example.com/{{{{ vars.k }}}}"}}
    retry: {{attempts: {TOKEN}}}
"""


@pytest.mark.parametrize("options", [[], ["--strict"], ["--format", "json"], ["--format", "github"]])
def test_a_secret_value_pasted_into_a_field_is_not_quoted_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    options: list[str],
) -> None:
    (tmp_path / "leak.yaml").write_text(LEAK)
    monkeypatch.setenv("API_TOKEN", TOKEN)
    monkeypatch.setenv("RUNNER_SECRETS_DIR", str(tmp_path / "none"))
    assert main(["validate", str(tmp_path / "leak.yaml"), *options]) == 1
    out = capsys.readouterr().out
    assert "retry.attempts: expected a whole number, got a string ('***')" in out
    assert TOKEN not in out


def test_a_name_used_twice_is_reported_beside_the_schema_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recipe = "kind: recipe\nname: same\n{extra}trigger: {{webhook: {{}}}}\nsteps:\n" \
             "  - id: a\n    request: {{url: 'https://example.com/'}}\n"
    text = recipe.format(extra="colour: x\n") + "---\n" + recipe.format(extra="")
    (tmp_path / "c.yaml").write_text(text)
    assert main(["validate", str(tmp_path / "c.yaml")]) == 1
    out = capsys.readouterr().out
    assert "unknown key 'colour'" in out
    assert "c.yaml:10:7: duplicate recipe name 'same' (first defined at " in out
