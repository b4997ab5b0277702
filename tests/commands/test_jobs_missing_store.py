"""`runner jobs` reads a store; a SQLite store that does not exist is an error, not "no jobs"."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.cli import main


@pytest.mark.parametrize("action", [["list"], ["show", "abc"], ["replay", "abc"]])
def test_a_missing_sqlite_store_is_an_environment_error_and_is_not_created(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: list[str]
) -> None:
    missing = tmp_path / "typo" / "runner.db"
    assert main(["jobs", *action, "--store", f"sqlite:///{missing}"]) == 2
    assert f"there is no job store at {missing}" in capsys.readouterr().err
    assert not (tmp_path / "typo").exists()


def test_an_existing_empty_store_lists_no_jobs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = f"sqlite:///{tmp_path / 'runner.db'}"
    (tmp_path / "runner.db").touch()
    assert main(["jobs", "list", "--store", store, "--format", "json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
