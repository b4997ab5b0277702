"""`runner validate` with a recorded sample: located warnings, --strict errors, and silence
where the template copes or nothing is known."""

from __future__ import annotations

import json
from pathlib import Path

from runner.cli import main

RECIPE = """kind: recipe
name: new-lead
trigger: {webhook: {}}
steps:
  - id: create_venue
    request:
      method: POST
      url: https://api.example.com/venues/
      json:
        name: "{{ trigger.body.venue }}"
        kind: "{{ trigger.headers['x-kind'] }}"
  - id: lines
    for_each: "{{ trigger.body.lines }}"
    request:
      method: POST
      url: https://api.example.com/lines/
      json:
        sku: "{{ item.sku }}"
        venue: "{{ steps.create_venue.body.id }}"
        ok: "{{ steps.create_venue.ok }}"
  - id: tell
    request:
      method: POST
      url: https://api.example.com/tell/
      json:
        first: "{{ steps.lines[0].body.line_id }}"
"""

SAMPLE = {
    "trigger": {"body": {"venue": "Hall", "lines": [{"sku": "A"}, {"sku": "B", "qty": 2}]},
                "headers": {"X-Kind": "lead"}},
    "steps": {
        "create_venue": {"status": 200, "headers": {}, "body": {"id": "1", "name": "Hall"}},
        "lines": [{"status": 201, "headers": {}, "body": {"line_id": 7}}],
    },
}


def project(tmp_path: Path, recipe: str = RECIPE, sample: object = SAMPLE) -> Path:
    (tmp_path / "new-lead.yaml").write_text(recipe, encoding="utf-8")
    if sample is not None:
        (tmp_path / "samples").mkdir(exist_ok=True)
        (tmp_path / "samples" / "new-lead.json").write_text(json.dumps(sample), encoding="utf-8")
    return tmp_path


def validate(tmp_path: Path, capsys, *flags: str) -> tuple[int, list[str]]:
    code = main(["validate", str(tmp_path), *flags])
    out = capsys.readouterr().out
    return code, out.splitlines()


def test_paths_the_sample_has_are_quiet(tmp_path, capsys):
    code, lines = validate(project(tmp_path), capsys)
    assert (code, lines) == (0, [])


def test_a_missing_key_is_a_located_warning_naming_the_sample_and_its_keys(tmp_path, capsys):
    recipe = RECIPE.replace("steps.create_venue.body.id", "steps.create_venue.body.venue.id")
    code, lines = validate(project(tmp_path, recipe), capsys)
    assert code == 0
    assert lines == [
        f"{tmp_path}/new-lead.yaml:19:16: warning: steps.create_venue.body has no key 'venue' "
        "in samples/new-lead.json; it has: id, name"]


def test_strict_makes_it_an_error(tmp_path, capsys):
    recipe = RECIPE.replace("item.sku", "item.skus")
    code, lines = validate(project(tmp_path, recipe), capsys, "--strict", "--format", "json")
    problems = json.loads("\n".join(lines))
    assert code == 1
    assert [(p["line"], p["severity"], p["code"]) for p in problems] == [
        (18, "error", "sample-missing-key")]
    assert "item has no key 'skus'" in problems[0]["message"]
    assert "(did you mean 'sku'?)" in problems[0]["message"]


def test_guarded_paths_are_not_reported(tmp_path, capsys):
    recipe = RECIPE.replace('"{{ trigger.body.venue }}"',
                            '"{{ trigger.body.nick | default(trigger.body.venue) }}"').replace(
        '"{{ item.sku }}"', '"{% if item.code is defined %}{{ item.code }}{% endif %}"')
    code, lines = validate(project(tmp_path, recipe), capsys)
    assert (code, lines) == (0, [])


def test_for_each_over_what_is_not_a_list(tmp_path, capsys):
    sample = json.loads(json.dumps(SAMPLE))
    sample["trigger"]["body"]["lines"] = {"sku": "A"}
    code, lines = validate(project(tmp_path, sample=sample), capsys)
    assert lines == [f"{tmp_path}/new-lead.yaml:13:15: warning: for_each needs a list, but "
                     "trigger.body.lines is an object in samples/new-lead.json"]


def test_indexing_a_scalar_and_keying_a_list(tmp_path, capsys):
    recipe = RECIPE.replace("trigger.body.venue }}", "trigger.body.venue.name }}").replace(
        "steps.lines[0].body.line_id", "steps.lines.body.line_id")
    _, lines = validate(project(tmp_path, recipe), capsys)
    assert [line.split("warning: ")[1] for line in lines] == [
        "trigger.body.venue is a string in samples/new-lead.json, so it has no key 'name'",
        "steps.lines is a list in samples/new-lead.json, so it has no key 'body': index it "
        "(steps.lines[0].body) or loop over it with for_each",
    ]


def test_header_names_match_in_any_case_and_string_methods_are_allowed(tmp_path, capsys):
    recipe = RECIPE.replace("trigger.headers['x-kind']", "trigger.headers['X-KIND'].lower()")
    assert validate(project(tmp_path, recipe), capsys) == (0, [])


def test_without_a_sample_nothing_is_checked(tmp_path, capsys):
    recipe = RECIPE.replace("steps.create_venue.body.id", "steps.create_venue.body.venue.id")
    assert validate(project(tmp_path, recipe, sample=None), capsys) == (0, [])


def test_a_step_the_sample_lacks_is_not_checked(tmp_path, capsys):
    sample = {"trigger": SAMPLE["trigger"], "steps": {}}
    recipe = RECIPE.replace("steps.create_venue.body.id", "steps.create_venue.body.venue.id")
    assert validate(project(tmp_path, recipe, sample=sample), capsys) == (0, [])


def test_a_sample_that_is_not_one_is_reported_at_its_file(tmp_path, capsys):
    code, lines = validate(project(tmp_path, sample=["not", "a", "sample"]), capsys)
    assert lines == [f"{tmp_path}/samples/new-lead.json:1:1: warning: a sample is a JSON object "
                     '{"trigger": {...}, "steps": {...}}']


def test_a_sample_value_that_looks_like_a_secret_is_never_quoted(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LEAD_TOKEN", "s3cr3t-value-1234")
    recipe = RECIPE.replace('"{{ trigger.body.venue }}"', '"{{ secrets.LEAD_TOKEN }}"').replace(
        "steps.create_venue.body.id", "steps.create_venue.body['s3cr3t-value-1234']")
    sample = json.loads(json.dumps(SAMPLE))
    _, lines = validate(project(tmp_path, recipe, sample), capsys)
    assert any("has no key '***'" in line for line in lines)
    assert not any("s3cr3t-value-1234" in line for line in lines)
