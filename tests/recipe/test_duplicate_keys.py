"""Duplicate keys: every one is reported, reading goes on, keys compare as YAML compares them."""

from runner.errors import Diagnostic
from runner.recipe.loader import load_text
from runner.recipe.yamlsource import SourceDocument, read_documents


def items(text: str) -> list[object]:
    return list(read_documents(text, "f.yaml"))


def problems(text: str) -> list[Diagnostic]:
    return [d for d in items(text) if isinstance(d, Diagnostic)]


def test_every_duplicate_key_of_a_document_is_reported():
    text = "a: 1\nb:\n  c: 1\n  c: 2\n  d: {e: 1, e: 2}\nb: {x: 1}\n"
    found = [(d.code, d.location.line, d.location.column, d.message) for d in problems(text)]
    assert found == [
        ("duplicate-key", 4, 3, "duplicate key 'c' (first defined at line 3)"),
        ("duplicate-key", 5, 13, "duplicate key 'e' (first defined at line 5)"),
        ("duplicate-key", 6, 1, "duplicate key 'b' (first defined at line 2)"),
    ]


def test_duplicates_inside_a_duplicated_value_are_reported_too():
    found = [(d.location.line, d.message) for d in problems("a: {x: 1}\na: {y: 1, y: 2}\n")]
    assert found == [
        (2, "duplicate key 'a' (first defined at line 1)"),
        (2, "duplicate key 'y' (first defined at line 2)"),
    ]


def test_reading_goes_on_after_a_duplicate_and_keeps_the_first_definition():
    out = items("name: a\nname: b\n---\nx: 1\nx: 2\n---\nok: true\n")
    docs = [i.data for i in out if isinstance(i, SourceDocument)]
    assert docs == [{"name": "a"}, {"x": 1}, {"ok": True}]
    assert [d.location.line for d in out if isinstance(d, Diagnostic)] == [2, 5]


def test_the_rest_of_the_file_is_validated_and_the_file_stays_invalid():
    text = (
        "kind: connection\nname: a\nname: b\nbogus: 1\n"
        "---\nkind: connection\nname: c\ntimeout: 1s\ntimeout: 2s\n"
        "---\nkind: connection\nname: Bad\n"
    )
    result = load_text(text, "f.yaml")
    found = sorted((d.location.line, d.code) for d in result.diagnostics)
    assert found == [
        (3, "duplicate-key"), (4, "unknown-field"), (9, "duplicate-key"), (12, "invalid-value")
    ]
    assert all(d.severity == "error" for d in result.diagnostics)


def test_validate_reports_duplicates_of_every_document(tmp_path, capsys, monkeypatch):
    from runner.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text(
        "kind: connection\nname: a\nname: b\n---\nkind: connection\nname: c\nproxy: x\nproxy: y\n"
    )
    assert main(["validate", "c.yaml"]) == 1
    out = capsys.readouterr().out
    assert "c.yaml:3:1: duplicate key 'name' (first defined at line 2)" in out
    assert "c.yaml:8:1: duplicate key 'proxy' (first defined at line 7)" in out


def test_keys_of_different_types_are_not_duplicates():
    assert problems("{1: a, '1': b, 1.5: c, '1.5': d, null: e, 'null': f}\n") == []
    (doc,) = [i for i in items("{1: a, '1': b}\n") if isinstance(i, SourceDocument)]
    assert doc.data == {1: "a", "1": "b"}


def test_one_and_true_are_distinct_keys_kept_as_their_text_with_a_warning():
    out = items("m: {1: one, true: yes}\n")
    (warning,) = [d for d in out if isinstance(d, Diagnostic)]
    assert warning.code == "yaml-key" and warning.severity == "warning"
    assert "duplicate" not in warning.message
    assert (warning.location.line, warning.location.column) == (1, 13)
    assert "keys 1 (line 1) and true are different YAML keys" in warning.message
    (doc,) = [i for i in out if isinstance(i, SourceDocument)]
    assert doc.data == {"m": {"1": "one", "true": "yes"}}


def test_zero_and_false_and_one_and_one_point_zero_are_distinct_keys():
    for text in ("{0: a, false: b}\n", "{1: a, 1.0: b}\n"):
        assert [(d.code, d.severity) for d in problems(text)] == [("yaml-key", "warning")]


def test_same_type_same_value_is_still_a_duplicate():
    assert [d.code for d in problems("{true: a, True: b}\n")] == ["duplicate-key"]
    assert [d.code for d in problems("{0x1: a, 1: b}\n")] == ["duplicate-key"]
    assert [d.message for d in problems("{.nan: a, .NaN: b}\n")] == [
        "duplicate key .nan (first defined at line 1)"
    ]
