"""`runner datapills`: what a step can use, from the recipe's sample, as text and JSON."""

from __future__ import annotations

import json
from pathlib import Path

from runner.cli import main

RECIPE = """kind: recipe
name: orders
trigger: {webhook: {}}
steps:
  - id: order
    request: {method: GET, url: "https://api.example.com/orders/{{ trigger.body.id }}"}
  - id: lines
    for_each: "{{ steps.order.body.lines }}"
    request: {method: POST, url: "https://api.example.com/lines", json: {sku: "{{ item.sku }}"}}
  - id: done
    request: {method: POST, url: "https://api.example.com/done"}
"""

SAMPLE = {
    "trigger": {"body": {"id": 7, "customer": {"email": "ada@example.com"}},
                "headers": {"Authorization": "***", "Content-Type": "application/json"}},
    "steps": {
        "order": {"status": 200, "headers": {"Content-Type": "application/json"},
                  "body": {"lines": [{"sku": "A-1", "qty": 2}], "note": "x" * 200,
                           "odd key": True}},
        "lines": [{"status": 201, "headers": {}, "body": {"line": 1}}],
    },
}


def project(tmp_path: Path, sample: object = SAMPLE) -> None:
    (tmp_path / "orders.yaml").write_text(RECIPE, encoding="utf-8")
    if sample is not None:
        (tmp_path / "samples").mkdir()
        (tmp_path / "samples" / "orders.json").write_text(json.dumps(sample), encoding="utf-8")


def pills(tmp_path, capsys, *args: str) -> tuple[int, str, str]:
    code = main(["datapills", "orders", str(tmp_path), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_step_sees_the_trigger_earlier_steps_and_its_item(tmp_path, capsys):
    project(tmp_path)
    code, out, err = pills(tmp_path, capsys, "--step", "lines", "--format", "json")
    rows = {row["path"]: row for row in json.loads(out)}
    assert code == 0, err
    assert rows["item.sku"] == {"path": "item.sku", "type": "string", "example": '"A-1"',
                                "description": None, "source": "samples/orders.json"}
    assert rows["trigger.body.customer.email"]["example"] == '"ada@example.com"'
    assert rows["steps.order.body.lines[0].qty"]["type"] == "integer"
    assert rows["steps.order.body['odd key']"]["type"] == "boolean"
    assert rows["trigger.headers.Authorization"]["example"] == '"***"'
    assert len(rows["steps.order.body.note"]["example"]) <= 60
    assert not any(path.startswith(("steps.lines", "steps.done")) for path in rows)


def test_without_a_step_every_step_is_listed_as_text(tmp_path, capsys):
    project(tmp_path)
    code, out, err = pills(tmp_path, capsys)
    lines = out.splitlines()
    assert code == 0
    assert any(line.split() == ["steps.lines[0].body.line", "integer", "1"] for line in lines)
    assert not any(line.startswith("item") for line in lines)
    assert "datapill(s) available at the end of recipe orders" in err


def test_unknown_step_and_missing_sample_say_what_to_do(tmp_path, capsys):
    project(tmp_path, sample=None)
    code, _, err = pills(tmp_path, capsys, "--step", "nope")
    assert code == 2 and "has no step 'nope' (steps: order, lines, done)" in err
    code, _, err = pills(tmp_path, capsys)
    assert code == 1 and "runner sample orders" in err


def test_a_provided_secret_in_a_sample_is_hidden(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("ORDERS_KEY", "k-77aa-secret")
    sample = json.loads(json.dumps(SAMPLE))
    sample["trigger"]["body"]["leaked"] = "k-77aa-secret"
    project(tmp_path, sample)
    recipe = (tmp_path / "orders.yaml").read_text().replace(
        'url: "https://api.example.com/done"',
        'url: "https://api.example.com/done", headers: {X-Key: "{{ secrets.ORDERS_KEY }}"}')
    (tmp_path / "orders.yaml").write_text(recipe)
    code, out, _ = pills(tmp_path, capsys)
    assert code == 0 and "k-77aa-secret" not in out and "trigger.body.leaked" in out
