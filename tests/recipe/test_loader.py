"""Documents become specs; every model rule is enforced with a located, readable message."""

from pathlib import Path

import pytest

from runner.recipe.loader import PathNotFound, find_files, load_paths, load_text
from runner.recipe.models import ConnectionSpec, RecipeSpec

WEBHOOK = "kind: recipe\nname: r\ntrigger: {webhook: {}}\n"


def messages(text: str) -> list[str]:
    return [str(d) for d in load_text(text, "f.yaml").diagnostics]


def test_valid_documents_load_with_defaults():
    result = load_text(
        "kind: connection\nname: api\nbase_url: https://x\n---\n" + WEBHOOK
        + "steps:\n  - id: a\n    request: {url: https://x/y}\n",
        "f.yaml",
    )
    assert result.diagnostics == []
    conn, recipe = (d.spec for d in result.documents)
    assert isinstance(conn, ConnectionSpec) and conn.auth.type == "none" and conn.timeout == 30
    assert isinstance(recipe, RecipeSpec) and recipe.concurrency == 1 and recipe.enabled
    assert recipe.trigger.webhook.methods == ["POST"] and recipe.trigger.webhook.respond == "accepted"
    assert recipe.webhook_path == "r"
    step = recipe.steps[0]
    assert step.request.method == "GET" and step.on_error == "fail" and step.idempotency_key


def test_unknown_key_suggests_the_closest_and_lists_all():
    (msg,) = messages(WEBHOOK + "steps:\n  - id: a\n    request: {methd: GET, url: https://x}\n")
    assert msg.startswith("f.yaml:6:15: unknown key 'methd' in steps[0].request (did you mean 'method'?)")
    assert "; expected one of: method, url, params" in msg


def test_missing_required_key_names_it():
    (msg,) = messages(WEBHOOK + "steps:\n  - id: a\n    request: {method: GET}\n")
    assert msg == "f.yaml:6:14: missing required key 'url' in steps[0].request"


@pytest.mark.parametrize(
    "extra, expected",
    [
        ("version: 2\n", "version: 2 is not allowed; expected 1"),
        ("name: Bad\n", "name: 'Bad' is not a valid name"),
        ("concurrency: 0\n", "concurrency: must be at least 1, got 0"),
        ("enabled: yes\n", "enabled: expected true or false, got a string ('yes')"),
    ],
)
def test_field_constraints(extra, expected):
    text = "kind: recipe\ntrigger: {webhook: {}}\n" + extra + ("" if "name" in extra else "name: r\n")
    assert any(expected in m for m in messages(text)), messages(text)


def test_exactly_one_trigger_kind():
    (msg,) = messages("kind: recipe\nname: r\ntrigger: {}\n")
    assert "a trigger needs exactly one of 'webhook' or 'poll' (found none)" in msg


def test_exactly_one_schedule_for_poll():
    text = "kind: recipe\nname: r\ntrigger:\n  poll: {every: 1m, schedule: '* * * * *', request: {url: https://x}, key: k}\n"
    (msg,) = messages(text)
    assert "a poll needs exactly one of 'every' or 'schedule' (found 'every', 'schedule')" in msg


def test_at_most_one_body():
    (msg,) = messages(WEBHOOK + "steps:\n  - id: a\n    request: {url: https://x, json: {}, body: x}\n")
    assert "takes only one of json, form, body (found json, body)" in msg


def test_auth_types_and_their_required_fields():
    (msg,) = messages("kind: connection\nname: c\nauth: {type: basic}\n")
    assert "missing required key 'username' in auth" in msg
    (msg,) = messages("kind: connection\nname: c\nauth: {type: bearer}\n")
    assert "auth: type bearer is not one of: none, basic, header, query, custom" in msg
    (msg,) = messages("kind: connection\nname: c\nauth: {type: oauth2_client_credentials, token_url: 'https://t', client_id: i}\n")
    assert "missing required key 'client_secret'" in msg


def test_durations_and_sizes_parse():
    text = WEBHOOK.replace("{webhook: {}}", "{webhook: {max_body: 512KiB, tolerance: 1m}}")
    spec = load_text(text, "f.yaml").documents[0].spec
    assert spec.trigger.webhook.max_body == 512 * 1024 and spec.trigger.webhook.tolerance == 60


def test_retry_conditions():
    spec = load_text("kind: connection\nname: c\nretry: {on: [429, 5xx, timeout]}\n", "f.yaml").documents[0].spec
    assert spec.retry.on == ["429", "5xx", "timeout"] and spec.retry.attempts == 3
    assert any("'teapot' is not a retry condition" in m for m in messages("kind: connection\nname: c\nretry: {on: [teapot]}\n"))


def test_missing_kind_and_non_mapping():
    assert messages("name: x\n") == ["f.yaml:1:1: missing key 'kind': every document starts with kind: connection or kind: recipe"]
    assert "not a string" in messages("just text\n")[0]


def test_find_files_defaults_and_missing_path(tmp_path: Path):
    (tmp_path / "recipes" / "sub").mkdir(parents=True)
    (tmp_path / "recipes" / "sub" / "a.yml").write_text(WEBHOOK)
    (tmp_path / "recipes" / "notes.txt").write_text("x")
    assert [p.name for p in find_files(None, str(tmp_path))] == ["a.yml"]
    with pytest.raises(PathNotFound, match="path 'nope' does not exist"):
        find_files(["nope"], str(tmp_path))
    result = load_paths(None, str(tmp_path))
    assert result.files == ["recipes/sub/a.yml"] and len(result.documents) == 1
