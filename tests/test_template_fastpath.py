"""Plain lookups skip the Jinja render; they must give exactly what the render gives."""

import pytest

from runner.errors import UndefinedError
from runner.templating.compiled import compile_template
from runner.templating.compiled import render_program as _render

CONTEXT = {
    "trigger": {"body": {"id": 42, "name": "ada", "none": None, "tags": ["a", "b"],
                         "nested": {"list": [{"k": "v"}]}}},
    "steps": {"first": {"body": {"id": "x-1"}, "ok": True}},
    "vars": {"n": 1.5},
}

TEMPLATES = [
    "{{ trigger.body.id }}",
    "{{ trigger.body.name | upper }}",
    "{{ trigger.body.name | upper | lower | trim }}",
    "{{ trigger.body.tags }}",
    "{{ trigger.body.tags[1] }}",
    "{{ trigger.body['nested'].list[0].k }}",
    "{{ trigger.body.none }}",
    "{{ steps.first.body.id }}",
    "{{ steps.first }}",
    "{{ vars.n }}",
    "{{ trigger.body.nested }}",
]


@pytest.mark.parametrize("source", TEMPLATES)
def test_the_fast_path_gives_what_the_render_gives(source: str) -> None:
    template = compile_template(source)
    assert template._lookup is not None, "a plain lookup should take the fast path"
    fast = template.render(CONTEXT)
    assert fast == _render(template, CONTEXT)
    assert type(fast) is type(_render(template, CONTEXT))


def test_rendered_values_are_copies_not_the_event_itself() -> None:
    value = compile_template("{{ trigger.body.tags }}").render(CONTEXT)
    value.append("c")
    assert CONTEXT["trigger"]["body"]["tags"] == ["a", "b"]


@pytest.mark.parametrize("source, message", [
    ("{{ trigger.body.missing }}", "trigger.body.missing is undefined"),
    ("{{ trigger.body.tags[5] }}", "trigger.body.tags[5]"),
    ("{{ steps.second.body }}", "steps.second.body is undefined; steps has keys: first"),
    ("{{ trigger.body.id.deeper }}", "trigger.body.id.deeper"),
])
def test_a_miss_falls_back_to_the_render_and_its_message(source: str, message: str) -> None:
    with pytest.raises(UndefinedError, match=message.replace("[", r"\[").replace("]", r"\]")):
        compile_template(source).render(CONTEXT)


@pytest.mark.parametrize("source", [
    "{{ trigger.body.id | default(1) }}",  # a filter with arguments
    "{{ trigger.body[trigger.body.name] }}",  # a computed key
    "{{ range }}",  # a built-in name
    "id {{ trigger.body.id }}",  # text around the expression
    "{{ trigger.body.id + 1 }}",
])
def test_anything_more_than_a_lookup_is_rendered_by_jinja(source: str) -> None:
    assert compile_template(source)._lookup is None
