"""`runner import curl`: a step from a cURL command, credentials as placeholders, never sent."""

from __future__ import annotations

from pathlib import Path

import yaml

from runner.cli import main

DEVTOOLS = (
    "curl 'https://api.example.com/v1/items?api_key=SEKRET_KEY_1&q=shoes' \\\n"
    "  -H 'Authorization: Bearer SEKRET_TOKEN_2' \\\n"
    "  -H 'content-type: application/json' \\\n"
    "  --data-raw '{\"name\":\"bob\",\"tags\":[1,2]}' \\\n"
    "  --compressed"
)

CONNECTION = """kind: connection
name: shop
base_url: https://api.example.com/v1
"""


def _import(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["import", "curl", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_devtools_command_becomes_a_step_with_secret_placeholders(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = _import(capsys, DEVTOOLS)
    assert code == 0, err
    assert "SEKRET" not in out + err
    step = yaml.safe_load(out)[0]
    assert step["request"] == {
        "method": "POST",
        "url": "https://api.example.com/v1/items",
        "params": {"api_key": "{{ secrets.API_KEY }}", "q": "shoes"},
        "json": {"name": "bob", "tags": [1, 2]},
        "headers": {"Authorization": "{{ secrets.AUTHORIZATION }}"},
    }
    assert "# create the secret 'AUTHORIZATION'" in out


def test_url_relative_to_the_matching_connection_and_the_step_validates(tmp_path, capsys):
    (tmp_path / "shop.yaml").write_text(CONNECTION)
    code, out, err = _import(capsys, "curl -G https://api.example.com/v1/items -d q=x -u me:PW9",
                             str(tmp_path))
    assert code == 0, err
    assert "PW9" not in out + err
    step = yaml.safe_load(out)[0]
    assert step["request"]["connection"] == "shop"
    assert step["request"]["url"] == "/items"
    assert step["request"]["method"] == "GET"
    assert step["request"]["params"] == {"q": "x"}
    recipe = ("kind: recipe\nname: imported\ntrigger: {webhook: {path: /imported}}\nsteps:\n"
              + "".join("  " + line + "\n" for line in out.splitlines()))
    (tmp_path / "imported.yaml").write_text(recipe)
    code = main(["validate", str(tmp_path)])
    _, verr = capsys.readouterr()
    assert code == 0, verr


def test_form_data_and_head(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, _ = _import(capsys, "curl -X PUT --url http://h/x -d a=1 -d b=2 -A agent/1")
    step = yaml.safe_load(out)[0]["request"]
    assert code == 0
    assert step["method"] == "PUT"
    assert step["form"] == {"a": "1", "b": "2"}
    assert step["headers"] == {"User-Agent": "agent/1"}
    code, out, _ = _import(capsys, "curl -I http://h/x")
    assert yaml.safe_load(out)[0]["request"]["method"] == "HEAD"


def test_unreadable_commands_exit_2_naming_the_part(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for command, part in [("curl -Z http://h", "token 2 '-Z': unknown option"),
                          ("curl 'http://h", "No closing quotation"),
                          ("wget http://h", "token 1 'wget'"),
                          ("curl -s", "no URL"),
                          ("curl http://h -F f=@file.txt", "not supported")]:
        code, out, err = _import(capsys, command)
        assert code == 2, command
        assert part in err, err
        assert out == ""


def test_literals_equal_to_trigger_sample_values_are_proposed_as_datapills(tmp_path, capsys):
    (tmp_path / "shop.yaml").write_text(CONNECTION)
    (tmp_path / "lead.yaml").write_text(
        "kind: recipe\nname: new-lead\ntrigger: {webhook: {path: /lead}}\n"
        "steps:\n  - id: ping\n    request: {method: GET, url: 'http://127.0.0.1:9/'}\n")
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "new-lead.json").write_text(
        '{"trigger": {"body": {"email": "a@b.c", "n": 7}}, "steps": {}}')
    code, out, err = _import(
        capsys, "curl https://api.example.com/v1/p --json '{\"to\": \"a@b.c\", \"x\": \"no\"}'",
        str(tmp_path), "--recipe", "new-lead")
    assert code == 0, err
    assert '# json.to: "a@b.c" = {{ trigger.body.email }}?' in out
    assert "json.x" not in out
    code, _, err = _import(capsys, "curl https://h/x", str(tmp_path), "--recipe", "nope")
    assert code == 2 and "no recipe named 'nope'" in err
