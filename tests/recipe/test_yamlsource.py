"""The strict YAML reader: YAML 1.2 scalars, duplicate keys, aliases, positions."""

import time

from runner.errors import Diagnostic
from runner.recipe.yamlsource import SourceDocument, read_documents


def read_one(text: str) -> SourceDocument:
    (doc,) = list(read_documents(text, "f.yaml"))
    assert isinstance(doc, SourceDocument), doc
    return doc


def problems(text: str) -> list[Diagnostic]:
    return [d for d in read_documents(text, "f.yaml") if isinstance(d, Diagnostic)]


def test_yaml_1_1_booleans_stay_strings():
    doc = read_one("country: NO\non: yes\noff: Off\ny: y\nt: true\nf: False\n")
    assert doc.data == {"country": "NO", "on": "yes", "off": "Off", "y": "y", "t": True, "f": False}


def test_dates_and_sexagesimal_stay_strings():
    doc = read_one("when: 2024-01-01\nport: 1:20\nversion: 1.10\n")
    assert doc.data == {"when": "2024-01-01", "port": "1:20", "version": 1.1}


def test_core_schema_numbers_and_null():
    doc = read_one("a: 0x1f\nb: 0o17\nc: -12\nd: 1e3\ne: ~\nf:\ng: null\nh: '12'\n")
    assert doc.data == {"a": 31, "b": 15, "c": -12, "d": 1000.0, "e": None, "f": None, "g": None, "h": "12"}


def test_duplicate_key_is_an_error_at_the_second_key():
    (d,) = problems("a: 1\nb:\n  c: 1\n  c: 2\n")
    assert d.code == "duplicate-key"
    assert (d.location.line, d.location.column) == (4, 3)
    assert "duplicate key 'c' (first defined at line 3)" in d.message


def test_billion_laughs_is_refused_quickly():
    rows = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        rows.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    started = time.monotonic()
    (d,) = problems("\n".join(rows) + "\n")
    assert time.monotonic() - started < 2
    assert d.code == "yaml-too-large"


def test_recursive_alias_is_refused():
    (d,) = problems("a: &a [*a]\n")
    assert d.code == "yaml-alias"


def test_deep_nesting_is_refused_without_crash():
    (d,) = problems("[" * 5000)
    assert d.code in ("yaml-too-large", "yaml-syntax")


def test_positions_of_keys_and_values():
    doc = read_one("kind: recipe\nsteps:\n  - id: a\n    request: {url: /x}\n")
    assert str(doc.locate(("steps", 0, "request", "url"))) == "f.yaml:4:20"
    assert str(doc.locate(("steps", 0, "request", "url"), key=True)) == "f.yaml:4:15"
    # a path that does not exist falls back to its nearest parent
    assert str(doc.locate(("steps", 0, "request", "method"))) == "f.yaml:4:14"


def test_template_line_in_block_scalar():
    doc = read_one("body: |\n  one\n  two {{ x }\n")
    assert doc.template_line(("body",), 2).line == 3


def test_several_documents_and_empty_ones():
    docs = list(read_documents("---\na: 1\n---\n---\nb: 2\n", "f.yaml"))
    assert [d.data for d in docs] == [{"a": 1}, {"b": 2}]


def test_syntax_error_is_located():
    (d,) = problems("a: [1, 2\nb: 3\n")
    assert d.code == "yaml-syntax" and d.location.line >= 1


def test_unsupported_tag_is_an_error():
    (d,) = problems("a: !!binary aGk=\n")
    assert d.code == "yaml-tag"


def test_an_unclosed_quote_is_reported_where_it_opens() -> None:
    from runner.recipe.loader import load_text

    text = 'kind: recipe\nname: a\ntrigger:\n  webhook: {path: "unterminated}\nsteps: []\n---\nkind: x\n'
    [problem] = load_text(text, "u.yaml").diagnostics
    assert str(problem) == ("u.yaml:4:19: invalid YAML: this quoted string is never closed "
                            "(found unexpected document separator at 6:1)")


def test_a_value_a_union_refuses_gets_one_message() -> None:
    from runner.recipe.loader import load_text

    text = ('kind: recipe\nname: fe\ntrigger: {webhook: {}}\nsteps:\n  - id: a\n    for_each: 3\n'
            '    request: {url: "https://example.com/"}\n')
    assert [str(d) for d in load_text(text, "f.yaml").diagnostics] == [
        "f.yaml:6:15: steps[0].for_each: expected a string or a list, got a number (3)"]
