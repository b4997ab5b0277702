"""Documents for the OpenAPI tests: the Eventbrite example's description, and the GitHub REST
description from npm `@octokit/openapi` (installed by .ci/run) when RUNNER_TEST_OCTOKIT_OPENAPI
names it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVENTBRITE_SPEC = ROOT / "examples" / "eventbrite" / "specs" / "eventbrite.yaml"

CONNECTION = """kind: connection
name: eventbrite
base_url: https://www.eventbriteapi.com/v3
openapi: specs/eventbrite.yaml
"""


def eventbrite_project(folder: Path, recipe: str, spec: Path = EVENTBRITE_SPEC) -> Path:
    """A folder with the connection, the example's description and `recipe` in recipe.yaml."""
    (folder / "specs").mkdir(parents=True, exist_ok=True)
    shutil.copy(spec, folder / "specs" / "eventbrite.yaml")
    (folder / "eventbrite.yaml").write_text(CONNECTION, encoding="utf-8")
    (folder / "recipe.yaml").write_text(recipe, encoding="utf-8")
    return folder


def github_description() -> Path:
    """The api.github.com description; the test is skipped (saying why) when it is not there."""
    named = os.environ.get("RUNNER_TEST_OCTOKIT_OPENAPI")
    if not named:
        pytest.skip("RUNNER_TEST_OCTOKIT_OPENAPI is not set: .ci/run installs @octokit/openapi "
                    "from npm and sets it to generated/api.github.com.json")
    path = Path(named)
    if not path.is_file():
        pytest.skip(f"RUNNER_TEST_OCTOKIT_OPENAPI names {named}, which is not a file")
    return path


def line_column(text: str, needle: str, occurrence: int = 1) -> tuple[int, int]:
    """1-based line and column where `needle` starts (its `occurrence`-th time)."""
    index = -1
    for _ in range(occurrence):
        index = text.index(needle, index + 1)
    before = text[:index]
    return before.count("\n") + 1, index - (before.rfind("\n") + 1) + 1
