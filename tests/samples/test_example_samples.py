"""The samples shipped with the examples and the bundled recipes: one per recipe, written as
`runner sample` writes them, and every datapill path of the recipes is found in them."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.commands.validate import check
from runner.recipe.models import RecipeSpec
from runner.samples.files import read_sample, sample_path, sample_text

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ["recipes", "examples/eventbrite", "examples/jira", "examples/webhooks"]


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_recipe_has_a_canonical_sample(folder):
    result, _ = check([str(ROOT / folder)])
    recipes = [d for d in result.documents if isinstance(d.spec, RecipeSpec)]
    assert recipes
    for loaded in recipes:
        path = sample_path(loaded.source.file, loaded.spec.name)
        sample = read_sample(path)
        assert sample is not None, f"{path} is missing"
        assert path.read_text(encoding="utf-8") == sample_text(sample)


@pytest.mark.parametrize("folder", FOLDERS)
def test_the_recipes_agree_with_their_samples(folder):
    _, diagnostics = check([str(ROOT / folder)], strict=False)
    assert [str(d) for d in diagnostics if d.code.startswith("sample-")] == []


def test_a_wrong_path_in_the_eventbrite_example_is_caught(tmp_path):
    source = (ROOT / "examples/eventbrite/eventbrite.yaml").read_text(encoding="utf-8")
    assert "steps.create_venue.body.id" in source
    (tmp_path / "eventbrite.yaml").write_text(
        source.replace("steps.create_venue.body.id", "steps.create_venue.body.venue.id"))
    (tmp_path / "samples").mkdir()
    for sample in (ROOT / "examples/eventbrite/samples").iterdir():
        (tmp_path / "samples" / sample.name).write_text(sample.read_text())
    _, diagnostics = check([str(tmp_path)])
    # guarded by `| default(none)` in the example: the wrong path is not reported there...
    assert [d for d in diagnostics if d.code.startswith("sample-")] == []
    (tmp_path / "eventbrite.yaml").write_text(
        source.replace("steps.create_venue.body.id | default(none)", "steps.create_venue.body.venue.id"))
    _, diagnostics = check([str(tmp_path)], strict=True)
    found = [d for d in diagnostics if d.code == "sample-missing-key"]
    # ...and is an error under --strict once the guard is gone
    assert len(found) == 1 and found[0].severity == "error"
    assert found[0].message.startswith(
        "steps.create_venue.body has no key 'venue' in samples/new-lead-to-venue.json; it has: ")
