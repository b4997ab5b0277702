"""`runner validate` output, pinned to the letter: one golden case per diagnostic code.

Each `golden/NAME.yaml` is validated on its own from inside `golden/`; its text report must equal
`golden/NAME.expected` (first line: the exit code). Regenerate after a deliberate wording change
with `RUNNER_UPDATE_GOLDEN=1 pytest tests/recipe/test_golden.py`, then review the diff.
"""

import os
from pathlib import Path

import pytest

from runner.cli import main

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.yaml"))


@pytest.mark.parametrize("name", CASES)
def test_validate_output_is_pinned(name, monkeypatch, capsys):
    monkeypatch.chdir(GOLDEN)
    code = main(["validate", f"{name}.yaml"])
    captured = capsys.readouterr()  # the problems on stdout, the summary line on stderr
    actual = f"exit {code}\n" + captured.out + captured.err
    expected_file = GOLDEN / f"{name}.expected"
    if os.environ.get("RUNNER_UPDATE_GOLDEN"):
        expected_file.write_text(actual, encoding="utf-8")
    assert actual == expected_file.read_text(encoding="utf-8")


def test_every_diagnostic_code_has_a_golden_case(monkeypatch):
    from runner.commands.validate import check

    monkeypatch.chdir(GOLDEN)
    _, diagnostics = check(["."])
    codes_seen = {d.code for d in diagnostics}
    for name in CASES:
        if name != "valid":
            assert name in codes_seen, f"golden/{name}.yaml does not produce the code {name}"
