"""`version:` is the integer 1 or absent; anything else is an error that says so in YAML's words."""

import pytest

from runner.recipe.loader import load_text

CONNECTION = "kind: connection\nname: c\n"


@pytest.mark.parametrize("value", ["1", "0x1"])
def test_version_one_is_accepted(value):
    result = load_text(CONNECTION + f"version: {value}\n", "c.yaml")
    assert result.diagnostics == [] and result.documents[0].spec.version == 1


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("true", "true"),
        ("1.0", "1.0"),
        ('"1"', "'1'"),
        ("2", "2"),
        ("null", "null"),
        ("", "null"),
        ("false", "false"),
        ("[1]", "a list"),
        ("{a: 1}", "a mapping"),
    ],
)
def test_any_other_version_is_an_error(value, shown):
    for head in (CONNECTION, "kind: recipe\nname: r\ntrigger: {webhook: {}}\n"):
        result = load_text(head + f"version: {value}\n", "d.yaml")
        assert result.documents == []
        (problem,) = result.diagnostics
        assert problem.code == "invalid-value"
        assert str(problem.location).startswith("d.yaml:")
        assert problem.message == (
            f"version: {shown} is not allowed; expected 1 (the integer: the only version of the "
            "recipe language)"
        )
        assert "None" not in problem.message and "True" not in problem.message


def test_other_messages_spell_values_as_yaml_does():
    result = load_text(CONNECTION + "retry: {attempts: 0}\nauth: {type: null}\n", "c.yaml")
    messages = " | ".join(d.message for d in result.diagnostics)
    assert "None" not in messages
