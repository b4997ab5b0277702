"""Secret names as container secret files are named, and optional secrets guarded in templates."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.errors import SecretError
from runner.redact import Redactor
from runner.secrets import SecretSource
from runner.templating import compile_template


@pytest.fixture
def source(tmp_path: Path) -> SecretSource:
    (tmp_path / "db-password").write_text("pg-pass-4471\n")
    (tmp_path / "token.txt").write_text("file-token-9f3e\n")
    return SecretSource({"A-B": "dash-env-val", "9LIVES": "nine-lives-val"}, tmp_path)


@pytest.mark.parametrize("name, value", [
    ("db-password", "pg-pass-4471"), ("token.txt", "file-token-9f3e"),
    ("A-B", "dash-env-val"), ("9LIVES", "nine-lives-val"),
])
def test_names_with_dashes_dots_and_leading_digits_are_read(source, name, value):
    assert source.get(name) == value


def render(template: str, source: SecretSource, redactor: Redactor | None = None) -> object:
    view = source.view(redactor or Redactor())
    return compile_template(template).render({"secrets": view})


def test_a_file_secret_with_a_dash_renders_and_is_redacted(source):
    redactor = Redactor()
    assert render("{{ secrets['db-password'] }}", source, redactor) == "pg-pass-4471"
    assert redactor.redact_text("x pg-pass-4471 y") == "x *** y"


@pytest.mark.parametrize("template, expected", [
    ("{{ secrets.NOPE | default('none') }}", "none"),
    ("{{ secrets['no-such.txt'] | d('none') }}", "none"),
    ("{{ secrets.NOPE is defined }}", False),
    ("{{ secrets.NOPE is not defined }}", True),
    ("{{ secrets.NOPE is undefined }}", True),
    ("{{ secrets['db-password'] is defined }}", True),
    ("{{ secrets.NOPE.deeper | default('none') }}", "none"),
    ("{{ secrets.NOPE if 'NOPE' in secrets else 'none' }}", "none"),
    ("{% if secrets.NOPE is defined %}{{ secrets.NOPE }}{% else %}none{% endif %}", "none"),
])
def test_a_missing_secret_is_undefined_where_the_template_copes(source, template, expected):
    assert render(template, source) == expected


@pytest.mark.parametrize("template", [
    "{{ secrets.NOPE }}", "Bearer {{ secrets.NOPE }}", "{{ secrets.NOPE | upper }}",
    "{{ secrets.NOPE == 'x' }}", "{{ [secrets.NOPE] }}", "{{ secrets.NOPE or 'none' }}",
])
def test_any_other_use_of_a_missing_secret_fails_as_before(source, template):
    with pytest.raises(SecretError, match="secret NOPE is not provided: set the environment"):
        render(template, source)


def test_an_invalid_name_is_still_refused_at_run_time(source):
    with pytest.raises(SecretError, match="invalid secret name '../x'"):
        render("{{ secrets['../x'] | default('none') }}", source)


def guarded(template: str) -> list[tuple[str, bool]]:
    return [(str(r), r.guarded) for r in compile_template(template).references
            if r.root == "secrets" and r.path]


@pytest.mark.parametrize("template", [
    "{{ secrets.X | default('none') }}",
    "{{ secrets.X | d('none', true) }}",
    "{{ secrets.X is defined }}",
    "{{ secrets.X is not defined }}",
    "{{ secrets.X if 'X' in secrets else 'none' }}",
    "{{ 'none' if 'X' not in secrets else secrets.X }}",
    "{{ 'X' in secrets and secrets.X == 'on' }}",
    "{{ 'X' not in secrets or secrets.X == 'on' }}",
    "{% if 'X' in secrets %}{{ secrets.X }}{% endif %}",
    "{% if secrets.X is defined %}{{ secrets.X }}{% endif %}",
    "{% if 'X' not in secrets %}none{% else %}{{ secrets.X }}{% endif %}",
    "{% if 'Y' in secrets %}y{% elif 'X' in secrets %}{{ secrets.X }}{% endif %}",
    "{% if 'X' not in secrets %}n{% elif 'Y' in secrets %}{{ secrets.X }}{% endif %}",
])
def test_guarded_secret_references_are_optional(template):
    assert guarded(template) and all(flag for _, flag in guarded(template))


@pytest.mark.parametrize("template", [
    "{{ secrets.X }}",
    "{{ secrets.X or 'none' }}",
    "{{ secrets.X | trim | default('') }}",  # trim fails before default sees anything
    "{{ secrets.Y | default(secrets.X) }}",
    "{% if 'Y' in secrets %}{{ secrets.X }}{% endif %}",
    "{% if 'X' in secrets %}{% endif %}{{ secrets.X }}",
    "{% if 'X' in secrets %}{% else %}{{ secrets.X }}{% endif %}",
    "{{ 'X' in secrets or secrets.X }}",
])
def test_unguarded_secret_references_stay_required(template):
    assert ("secrets.X", False) in guarded(template)
