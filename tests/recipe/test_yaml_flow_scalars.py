"""YAML 1.2 plain scalars inside `[...]` and `{...}`: `?` belongs to the scalar; `? ` is a key."""

import pytest

from runner.recipe.loader import load_text
from runner.recipe.yamlsource import SourceDocument, read_documents


def read_one(text: str) -> object:
    (doc,) = list(read_documents(text, "f.yaml"))
    assert isinstance(doc, SourceDocument), doc
    return doc.data


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a: {url: /search?q=1&limit=10}\n", {"url": "/search?q=1&limit=10"}),
        ("a: [a?b]\n", ["a?b"]),
        ("a: [a?b, c?]\n", ["a?b", "c?"]),
        ("a: [?x]\n", ["?x"]),  # `?` then a non-space starts a plain scalar (YAML 1.2)
        ("a: [a ? b, c]\n", ["a ? b", "c"]),
        ("a: {x: 1, ?y: 2}\n", {"x": 1, "?y": 2}),
        ("a: {k?: v?}\n", {"k?": "v?"}),
    ],
)
def test_question_mark_inside_a_flow_plain_scalar(text, value):
    assert read_one(text) == {"a": value}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a: {? k : v}\n", {"k": "v"}),
        ("a: [? k : v]\n", [{"k": "v"}]),
        ("a: {? k}\n", {"k": None}),
        ("? k\n: v\n", None),
    ],
)
def test_question_mark_and_space_is_still_the_explicit_key(text, value):
    data = read_one(text)
    assert data == ({"a": value} if value is not None else {"k": "v"})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a: {url: http://x/y}\n", {"url": "http://x/y"}),
        ("a: {url: http://x/y?q=1}\n", {"url": "http://x/y?q=1"}),
        ("a: [a:b, c]\n", ["a:b", "c"]),
        ("a: {'q':x}\n", {"q": "x"}),
        ("a: {k: v}\n", {"k": "v"}),
        ("a: {k:}\n", {"k": None}),
    ],
)
def test_colon_rules_in_flow_context_are_unchanged(text, value):
    assert read_one(text) == {"a": value}


def test_a_request_url_with_a_query_in_flow_style_validates():
    text = (
        "kind: recipe\nname: r\ntrigger: {webhook: {}}\nsteps:\n"
        "  - id: s\n    request: {method: GET, url: https://x.example/search?q=1&limit=10}\n"
    )
    result = load_text(text, "r.yaml")
    assert result.diagnostics == []
    (loaded,) = result.documents
    assert loaded.spec.steps[0].request.url == "https://x.example/search?q=1&limit=10"
