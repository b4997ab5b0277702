"""Datapills: native values, strict undefined, keys before attributes, sandbox, filters, limits."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner import templating
from runner.errors import TemplateError, UndefinedError
from runner.templating.values import LIMITS, RenderLimits
from runner.templating import (
    BUILTIN_NAMES,
    Reference,
    TemplateSyntaxError,
    compile_template,
    compile_tree,
    iter_templates,
    make_context,
    references,
    render_tree,
)

CONTEXT: dict[str, Any] = {
    "trigger": {"body": {"id": 7, "amount": 12.5, "items": [{"sku": "A"}, {"sku": "B"}, {}],
                         "country": "no", "note": None, "_id": "abc", "text": "plain"}},
    "steps": {"create_venue": {"status": 201, "ok": True, "body": {"id": "v1", "name": "Hall"}}},
    "vars": {"organization": "1234"},
}


def render(source: str, context: dict[str, Any] | None = None) -> Any:
    return compile_template(source).render(CONTEXT if context is None else context)


# Constants and native values


def test_constant_string_skips_jinja() -> None:
    source = "no {braces} here, {# not a comment #} either"
    template = compile_template(source)
    assert template.is_constant and template._program is None
    assert template.render({}) is source


@pytest.mark.parametrize(("source", "expected"), [
    ("{{ trigger.body.id }}", 7),
    ("{{ trigger.body.amount }}", 12.5),
    ("{{ steps.create_venue.ok }}", True),
    ("{{ trigger.body.note }}", None),
    ("{{ trigger.body.items[0] }}", {"sku": "A"}),
    ("{{ [1, 'two'] }}", [1, "two"]),
    ("{{ trigger.body.text }}", "plain"),
])
def test_single_expression_renders_its_own_value(source: str, expected: Any) -> None:
    result = render(source)
    assert result == expected and type(result) is type(expected)


def test_whitespace_around_single_expression_keeps_native_value() -> None:
    assert render("  {{ trigger.body.id }}\n") == 7
    assert render("{{- trigger.body.id -}}") == 7


def test_anything_else_renders_text() -> None:
    assert render("Order {{ trigger.body.id }}") == "Order 7"
    assert render("{{ trigger.body.id }}{{ trigger.body.id }}") == "77"
    assert render("{% if true %}{{ trigger.body.id }}{% endif %}") == "7"


def test_string_filter_forces_text() -> None:
    assert render("{{ trigger.body.id | string }}") == "7"
    assert render("{{ [1, 2] | string }}") == "[1,2]"


def test_text_prints_null_as_nothing_booleans_and_containers_as_json() -> None:
    assert render("[{{ trigger.body.note }}] {{ true }} {{ trigger.body.items[0] }}") \
        == '[] true {"sku":"A"}'
    assert render("{{ 'x' ~ none ~ false }}") == "xfalse"


def test_generators_from_filters_become_lists() -> None:
    assert render("{{ trigger.body.items[:2] | map(attribute='sku') }}") == ["A", "B"]


def test_trailing_newline_of_a_block_scalar_is_kept() -> None:
    assert render("id={{ trigger.body.id }}\n") == "id=7\n"


def test_data_is_never_a_template() -> None:
    context = {"body": {"text": "{{ 7*7 }}", "list": ["{% for %}"]}}
    assert render("{{ body.text }}", context) == "{{ 7*7 }}"
    assert render("x {{ body.text }}", context) == "x {{ 7*7 }}"
    assert render("{{ body }}", context) == {"text": "{{ 7*7 }}", "list": ["{% for %}"]}


def test_native_results_are_fresh_copies() -> None:
    result = render("{{ trigger.body.items }}")
    result.append("mutated")
    assert len(CONTEXT["trigger"]["body"]["items"]) == 3


# Keys before attributes


def test_dot_on_a_mapping_is_always_the_key() -> None:
    assert render("{{ trigger.body.items | length }}") == 3
    assert render("{{ trigger.body['items'][1].sku }}") == "B"
    assert render("{{ trigger.body._id }}") == "abc"


def test_mapping_methods_are_not_reachable_by_dot() -> None:
    with pytest.raises(UndefinedError, match=r"steps\.create_venue\.body\.items is undefined"):
        render("{% for k, v in steps.create_venue.body.items() %}{% endfor %}")
    assert render("{% for k, v in steps.create_venue.body | items %}{{ k }};{% endfor %}") \
        == "id;name;"


# Undefined is an error


def test_undefined_names_full_path_and_parent_keys() -> None:
    with pytest.raises(UndefinedError) as caught:
        render("{{ steps.create_venue.body.venue.id }}")
    assert str(caught.value) == ("steps.create_venue.body.venue.id is undefined; "
                                 "steps.create_venue.body has keys: id, name")


def test_undefined_under_a_list_counts_its_items() -> None:
    with pytest.raises(UndefinedError, match=r"^trigger\.body\.items\[5\]\.sku is undefined; "
                                             r"trigger\.body\.items has 3 items$"):
        render("{{ trigger.body.items[5].sku }}")


def test_undefined_top_level_name_lists_available_names() -> None:
    with pytest.raises(UndefinedError) as caught:
        render("{{ foo }}")
    assert str(caught.value) == "foo is undefined; available names: steps, trigger, vars"


def test_undefined_under_a_scalar_says_its_type() -> None:
    with pytest.raises(UndefinedError) as caught:
        render("{{ trigger.body.text.x }}")
    assert str(caught.value) == "trigger.body.text.x is undefined; trigger.body.text is a string"


def test_undefined_in_text_and_conditions_fails_too() -> None:
    with pytest.raises(UndefinedError, match=r"trigger\.body\.missing is undefined"):
        render("Order {{ trigger.body.missing }}")
    with pytest.raises(UndefinedError, match=r"trigger\.body\.missing is undefined"):
        render("{% if trigger.body.missing %}x{% endif %}")
    with pytest.raises(UndefinedError, match=r"^it\.sku is undefined; it is an empty mapping$"):
        render("{% for it in trigger.body.items %}{{ it.sku }}{% endfor %}")


def test_default_and_is_defined_work_as_in_jinja() -> None:
    assert render("{{ trigger.body.missing | default('none') }}") == "none"
    assert render("{{ trigger.body.missing.deeper | default(0) }}") == 0
    assert render("{{ trigger.body.country is defined }}") is True
    assert render("{{ trigger.body.missing.x is defined }}") is False
    assert render("{{ 'x' if false }}") is None and render("a{{ 'x' if false }}b") == "ab"


# Sandbox


@pytest.mark.parametrize("source", [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    '{{ "{0.__class__}".format(1) }}',
    "{{ '{a.__class__.__base__}'.format_map({'a': 1}) }}",
    "{{ [1].append(2) }}",
    "{{ now().__class__ | default('hidden') }}",
])
def test_sandbox_refuses_internals_with_a_template_error(source: str) -> None:
    with pytest.raises(TemplateError, match="not allowed"):
        render(source)


def test_include_and_import_are_refused_at_compile_time() -> None:
    with pytest.raises(TemplateSyntaxError, match="include"):
        compile_template("{% include 'x' %}")


# Errors carry the template line and no values


def test_syntax_error_carries_its_line() -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        compile_template("first\n{{ trigger.body.id }\n")
    assert caught.value.line == 2 and "template line 2" in str(caught.value)


def test_unknown_filter_is_a_compile_time_error() -> None:
    with pytest.raises(TemplateSyntaxError, match="No filter named 'nope'"):
        compile_template("{{ 1 | nope }}")


def test_render_error_of_a_multiline_template_carries_its_line() -> None:
    with pytest.raises(UndefinedError, match=r"foo is undefined.*\(template line 3\)$"):
        render("a\nb\n{{ foo }}")


def test_render_errors_do_not_quote_values() -> None:
    context = {"secret": "hunter2-secret-value"}
    for source in ("{{ [1, 2].index(secret) }}", "{{ secret | iso8601 }}",
                   "{{ secret | from_json }}", "{{ secret | b64decode }}",
                   "{{ {'a': secret} | jmespath('sum(a)') }}"):
        with pytest.raises(TemplateError) as caught:
            render(source, context)
        assert "hunter2" not in str(caught.value)
        assert caught.value.__cause__ is None or "hunter2" not in str(caught.value.__cause__)


# Filters and functions


def test_tojson_is_compact_unescaped_and_keeps_non_ascii() -> None:
    value = {"name": "Øl <b>&", "n": [1, None], "at": datetime(2024, 1, 2, tzinfo=UTC)}
    assert render("{{ v | tojson }}", {"v": value}) \
        == '{"name":"Øl <b>&","n":[1,null],"at":"2024-01-02T00:00:00Z"}'


def test_from_json_parses_text_and_passes_data_through() -> None:
    assert render("{{ ('{\"a\": [1]}' | from_json).a }}") == [1]
    assert render("{{ trigger.body.items | from_json | length }}") == 3
    with pytest.raises(TemplateError, match="from_json: not valid JSON"):
        render("{{ '{' | from_json }}")


def test_base64_round_trips_utf8_text() -> None:
    assert render("{{ 'Grüße' | b64encode }}") == base64.b64encode("Grüße".encode()).decode()
    assert render("{{ 'Grüße' | b64encode | b64decode }}") == "Grüße"
    assert render("{{ 'w7w-Pj8' | b64decode }}") == "ü>>?"  # URL-safe alphabet, no padding
    with pytest.raises(TemplateError, match="not valid base64"):
        render("{{ '***' | b64decode }}")


def test_urlencode_mapping_and_text() -> None:
    assert render("{{ {'q': 'a b&c', 'tag': ['x', 'y'], 'on': true} | urlencode }}") \
        == "q=a%20b%26c&tag=x&tag=y&on=true"
    assert render("{{ 'a/b c' | urlencode }}") == "a%2Fb%20c"


def test_sha256_and_hmac_sha256_give_hex_digests() -> None:
    assert render("{{ 'abc' | sha256 }}") == hashlib.sha256(b"abc").hexdigest()
    expected = hmac.new(b"key", b"body", hashlib.sha256).hexdigest()
    assert render("{{ 'body' | hmac_sha256('key') }}") == expected


@pytest.mark.parametrize(("value", "expected"), [
    (datetime(2024, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2))), "2024-05-01T12:00:00Z"),
    (datetime(2024, 5, 1, 12, 0), "2024-05-01T12:00:00Z"),
    (1714564800, "2024-05-01T12:00:00Z"),
    ("2024-05-01T14:00:00+02:00", "2024-05-01T12:00:00Z"),
    ("2024-05-01T12:00:00.5Z", "2024-05-01T12:00:00.500000Z"),
    ("1714564800", "2024-05-01T12:00:00Z"),  # epoch seconds quoted, as many APIs send numbers
    ("1714564800.25", "2024-05-01T12:00:00.250000Z"),
    ("Wed, 01 May 2024 14:00:00 +0200", "2024-05-01T12:00:00Z"),  # RFC 2822
    ("Wed, 01 May 2024 12:00:00 GMT", "2024-05-01T12:00:00Z"),  # an HTTP Date header
])
def test_iso8601_gives_utc_with_z(value: Any, expected: str) -> None:
    assert render("{{ v | iso8601 }}", {"v": value}) == expected


def test_timestamp_gives_epoch_seconds() -> None:
    assert render("{{ '2024-05-01T12:00:00Z' | timestamp }}") == 1714564800
    assert render("{{ 'Wed, 01 May 2024 12:00:00 GMT' | timestamp }}") == 1714564800
    assert render("{{ 1714564800.9 | timestamp }}") == 1714564800  # whole seconds, rounded down
    assert render("{{ v | timestamp }}", {"v": datetime(2024, 5, 1, 12, tzinfo=UTC)}) \
        == 1714564800


def test_jmespath_queries_data() -> None:
    assert render("{{ trigger.body | jmespath('items[?sku].sku') }}") == ["A", "B"]
    with pytest.raises(TemplateError, match="jmespath: invalid expression"):
        render("{{ trigger.body | jmespath('items[') }}")
    with pytest.raises(TemplateError, match=r"^jmespath needs its expression: "):
        render("{{ trigger.body | jmespath }}")


def test_now_is_aware_utc_and_uuid4_is_text() -> None:
    assert render("{{ now().tzinfo is not none and now().utcoffset().total_seconds() == 0 }}")
    assert abs(render("{{ now() | timestamp }}") - time.time()) < 5
    assert uuid.UUID(render("{{ uuid4() }}")).version == 4


def test_context_can_replace_the_clock() -> None:
    fixed = datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert render("{{ now() | iso8601 }}", {"now": lambda: fixed}) == "2024-05-01T12:00:00Z"


def test_loops_keep_their_loop_variables() -> None:
    source = "{% for i in range(3) %}{{ loop.index }}/{{ loop.length }}{{ '.' if loop.last }} "
    source += "{% endfor %}"
    assert render(source) == "1/3 2/3 3/3. "
    assert render("{% for x in [] %}x{% else %}empty{% endfor %}") == "empty"


def test_builtin_names_are_known() -> None:
    assert {"now", "uuid4", "range", "loop", "namespace"} <= BUILTIN_NAMES
    assert "lipsum" not in BUILTIN_NAMES


# Limits


def test_output_larger_than_the_limit_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LIMITS, "max_bytes", 1000)
    with pytest.raises(TemplateError, match="output larger than 1000 bytes"):
        render("{% for i in range(2000) %}x{% endfor %}")
    with pytest.raises(TemplateError, match="larger than 1000 bytes"):
        render("{{ range(600) | list }}")
    assert len(render("{% for i in range(999) %}x{% endfor %}")) == 999


def test_render_limit_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNNER_MAX_RENDER", "512KiB")
    assert RenderLimits.from_env().max_bytes == 512 * 1024
    monkeypatch.delenv("RUNNER_MAX_RENDER")
    assert RenderLimits.from_env().max_bytes == 1024 * 1024


@pytest.mark.parametrize("source", [
    "{{ 'a' * 10**9 }}",
    "{{ [0] * 10**9 }}",
    "{{ 'x' | center(10**9) }}",
    "{{ 'x'.ljust(10**9) }}",
    "{{ '%999999999d' % 1 }}",
    "{{ '{:>999999999}'.format(1) }}",
    ("{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
     "{% endfor %}"),
    ("{% set ns = namespace(s='ab') %}{% for i in range(60) %}"
     "{% set ns.s = ns.s.replace('a', 'aa') %}{% endfor %}"),
])
def test_huge_values_fail_fast(source: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateError, match="larger than 1 MiB"):
        render(source)
    assert time.monotonic() - started < 1


def test_numbers_and_ranges_are_bounded() -> None:
    with pytest.raises(TemplateError, match="number too large"):
        render("{{ 7 ** 1000000000 }}")
    with pytest.raises(TemplateError, match="range"):
        render("{{ range(10**9) | length }}")


def test_long_running_template_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(LIMITS, "max_seconds", 0.2)
    for source in (
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        ("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
         "{{ f(40) }}"),
    ):
        started = time.monotonic()
        with pytest.raises(TemplateError, match="template ran too long"):
            render(source)
        assert time.monotonic() - started < 2


def test_a_single_slow_filter_fails_the_template_once_it_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(LIMITS, "max_seconds", 0.05)
    source = "{{ ('x y ' * 170000) | wordwrap(2) | length }}"  # no loop: one call to the filter
    started = time.monotonic()
    with pytest.raises(TemplateError, match="template ran too long"):
        render(source)
    assert time.monotonic() - started > 0.05  # it could not be cut short, but it did not pass


def test_unbounded_recursion_fails_cleanly() -> None:
    with pytest.raises(TemplateError, match="recursed too deeply"):
        render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}")


# Static references


def test_references_report_free_lookup_chains() -> None:
    source = ("{{ steps.create_venue.body.id }}\n"
              "{{ trigger.headers['X-Id'] }}{{ trigger.body.items[0].sku }}\n"
              "{{ vars.table[trigger.body.key].name }}{{ now() }}")
    assert references(source) == [
        Reference("steps", ("create_venue", "body", "id"), 1),
        Reference("trigger", ("headers", "X-Id"), 2),
        Reference("trigger", ("body", "items", 0, "sku"), 2),
        Reference("trigger", ("body", "key"), 3),
        Reference("vars", ("table",), 3),
        Reference("now", (), 3),
    ]


def test_references_skip_names_the_template_binds() -> None:
    source = ("{% set total = 1 %}{% for it in trigger.body.items %}{{ it.sku }}{{ loop.index }}"
              "{% endfor %}{% macro m(arg) %}{{ arg.x }}{{ caller() }}{% endmacro %}"
              "{% with w = vars.a %}{{ w.b }}{% endwith %}{{ total }}{{ m(1) }}{{ it }}")
    assert [str(ref) for ref in references(source)] \
        == ["trigger.body.items", "vars.a", "it"]


def test_references_of_bad_syntax_raise_template_error() -> None:
    with pytest.raises(TemplateError):
        references("{{ a. }}")


# Trees


def test_render_tree_renders_keys_values_and_keeps_scalars() -> None:
    tree = compile_tree({
        "venue": {"name": "{{ steps.create_venue.body.name }}", "capacity": 100,
                  "{{ trigger.body.country | upper }}": "{{ trigger.body.id }}"},
        "tags": ["fixed", "{{ trigger.body.id }}", None, True],
    })
    assert render_tree(tree, CONTEXT) == {
        "venue": {"name": "Hall", "capacity": 100, "NO": 7},
        "tags": ["fixed", 7, None, True],
    }


def test_render_tree_returns_fresh_containers() -> None:
    tree = compile_tree({"a": [1, {"b": "c"}]})
    first = render_tree(tree, {})
    first["a"].append(2)
    assert render_tree(tree, {}) == {"a": [1, {"b": "c"}]}


def test_compile_tree_syntax_error_says_where() -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        compile_tree({"json": {"items": ["ok", "{{ broken"]}})
    assert caught.value.path == ("json", "items", 1)


def test_iter_templates_finds_every_template_with_its_path() -> None:
    tree = compile_tree({"url": "/x/{{ vars.organization }}", "n": 1, "h": {"{{ k }}": "v"}})
    assert [(path, t.source) for path, t in iter_templates(tree)] == [
        (("url",), "/x/{{ vars.organization }}"), (("h", "{{ k }}"), "{{ k }}")]


def test_templates_are_compiled_once() -> None:
    assert compile_template("{{ trigger.body.id }}") is compile_template("{{ trigger.body.id }}")
    assert compile_template("{{ trigger.body.id }}").is_expression


def test_make_context_builds_the_names() -> None:
    context = make_context(trigger={"body": {}}, steps={}, vars={})
    assert render("{{ trigger.body | length }}", context) == 0


# Robustness

_PIECES = st.sampled_from([
    "{{", "}}", "{%", "%}", "{#", "#}", " ", "x", "1", ".", "[", "]", "(", ")", "|", "'", "~", "*",
    "for ", "in ", "if ", "endfor", "endif", "set ", "=", "trigger", "body", "range(", "loop",
    "default(", "tojson", "is defined", "\n", "__class__", "macro ", "endmacro", "**", "%",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=60), st.lists(_PIECES, max_size=25).map("".join)))
def test_arbitrary_text_renders_or_raises_template_error(text: str) -> None:
    with contextlib.suppress(TemplateError):
        compile_template(text).render(CONTEXT)


def test_module_exports_what_it_documents() -> None:
    for name in templating.__all__:
        assert hasattr(templating, name), name
    assert json.dumps(render("{{ trigger.body }}"))  # native values are plain JSON data


def test_printf_and_format_show_headers_as_data_not_internals() -> None:
    from runner.engine.messages import Headers

    trigger = {"headers": Headers({"X-A": "1"})}
    for source in ("{{ '%s' % trigger }}", "{{ '{0}'.format(trigger) }}"):
        shown = render(source, {"trigger": trigger})
        assert shown == "{'headers': {'X-A': '1'}}"


def test_an_undefined_attribute_met_inside_a_filter_says_where_it_was_looked_up() -> None:
    with pytest.raises(UndefinedError) as caught:
        render("{{ trigger.body['items'] | map(attribute='nope') | list }}")
    assert str(caught.value) == ("nope is undefined; the value it was looked up on (inside a "
                                 "filter) has keys: sku")
