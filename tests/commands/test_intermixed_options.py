"""Options may stand anywhere among a command's positional arguments, as users expect."""

import json

import pytest

from runner.cli import build_parser, main

RECIPE = (
    "kind: recipe\nname: lead\ntrigger: {webhook: {}}\nsteps:\n"
    "  - id: a\n    request: {connection: api, url: /x}\n"
)
CONNECTION = "kind: connection\nname: api\nbase_url: https://api.example.com\n"


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recipes").mkdir()
    (tmp_path / "connections").mkdir()
    (tmp_path / "recipes" / "lead.yaml").write_text(RECIPE)
    (tmp_path / "connections" / "api.yaml").write_text(CONNECTION)
    (tmp_path / "a.yaml").write_text(CONNECTION)
    (tmp_path / "b.yaml").write_text(RECIPE)
    return tmp_path


def test_validate_format_between_paths(project, capsys):
    assert main(["validate", "recipes", "--format", "json", "connections"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_validate_strict_between_paths(project, capsys):
    assert main(["validate", "a.yaml", "--strict", "b.yaml"]) == 0
    assert "ok: 2 document(s) in 2 file(s)" in capsys.readouterr().err


def test_run_dry_run_between_recipe_and_paths(project, capsys):
    assert main(["run", "lead", "--dry-run", "recipes", "connections"]) == 0
    assert "https://api.example.com/x" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["validate", "a", "--strict", "b", "--format", "github", "c"],
         {"paths": ["a", "b", "c"], "strict": True, "format": "github"}),
        (["serve", "a", "--port", "9", "b"], {"paths": ["a", "b"], "port": 9}),
        (["run", "--dry-run", "lead", "x", "--event", "e.json", "y"],
         {"recipe": "lead", "paths": ["x", "y"], "event": "e.json", "dry_run": True}),
        (["connection", "test", "api", "--store", "s", "p"],
         {"name": "api", "paths": ["p"], "store": "s"}),
        (["connect", "api", "--no-browser", "p", "q"],
         {"name": "api", "paths": ["p", "q"], "no_browser": True}),
        (["connections", "p", "--format", "json", "q"], {"paths": ["p", "q"], "format": "json"}),
        (["jobs", "show", "--format", "json", "7"], {"id": "7", "format": "json"}),
        (["validate"], {"paths": []}),
    ],
)
def test_every_command_takes_options_anywhere(argv, expected):
    args = vars(build_parser().parse_args(argv))
    assert {key: args[key] for key in expected} == expected


@pytest.mark.parametrize(
    "argv",
    [
        ["validate", "a", "--frob", "b"],
        ["validate", "a", "--format"],
        ["validate", "--format", "xml", "a"],
        ["run"],
        ["jobs", "show"],
        ["jobs", "frob"],
        ["frobnicate"],
    ],
)
def test_usage_errors_still_exit_2(argv, capsys):
    assert main(argv) == 2
    assert "runner: error:" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["validate", "a", "--help"], ["run", "--help"], ["jobs", "--help"],
     ["jobs", "list", "--help"], ["connection", "test", "--help"], ["schema", "--help"],
     ["serve", "--help"], ["connect", "--help"], ["connections", "--help"]],
)
def test_help_still_works_everywhere(argv, capsys):
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("usage: runner")


@pytest.mark.parametrize(("argv", "usage", "error"), [
    (["connection", "test"], "usage: runner connection test", "required: NAME\n"),
    (["run"], "usage: runner run", "required: RECIPE\n"),
    (["validate", "recipes", "--bogus"], "usage: runner validate", "unrecognized arguments: --bogus"),
    (["jobs", "list", "--frob"], "usage: runner jobs list", "unrecognized arguments: --frob"),
])
def test_usage_errors_name_the_command_and_only_what_is_missing(argv, usage, error, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(usage) and error in err
    assert "PATH\n" not in err.splitlines()[-1]  # PATH... may be left out
