"""Secrets come from the environment, then the secrets folder, and never from outside it."""

from __future__ import annotations

from pathlib import Path

import jinja2.sandbox
import pytest

from runner.errors import SecretError
from runner.redact import Redactor
from runner.secrets import DEFAULT_SECRETS_DIR, SecretSource, SecretsView


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "FILE_ONLY").write_text("from-file\n")
    (secrets_dir / "BOTH").write_text("file-value")
    (secrets_dir / "CRLF").write_text("crlf-value\r\n")
    (secrets_dir / "TWO_NEWLINES").write_text("kept\n\n")
    (secrets_dir / "EMPTY").write_text("\n")
    return secrets_dir


@pytest.fixture
def source(folder: Path) -> SecretSource:
    return SecretSource({"ENV_ONLY": "from-env", "BOTH": "env-value", "BLANK": ""}, folder)


def test_environment_variable_is_read(source: SecretSource) -> None:
    assert source.get("ENV_ONLY") == "from-env"


def test_file_in_folder_is_read_without_its_trailing_newline(source: SecretSource) -> None:
    assert source.get("FILE_ONLY") == "from-file"
    assert source.get("CRLF") == "crlf-value"
    assert source.get("TWO_NEWLINES") == "kept\n"


def test_environment_wins_over_file(source: SecretSource) -> None:
    assert source.get("BOTH") == "env-value"


def test_empty_value_counts_as_not_provided(source: SecretSource) -> None:
    assert source.get("EMPTY") is None
    assert not source.is_provided("BLANK")


def test_missing_secret_error_names_both_ways_to_provide_it(source: SecretSource) -> None:
    assert source.get("NOPE") is None
    assert not source.is_provided("NOPE")
    with pytest.raises(SecretError) as caught:
        source.require("NOPE")
    assert str(caught.value) == (
        "secret NOPE is not provided: set the environment variable NOPE "
        f"or create the file {source.secrets_dir / 'NOPE'}"
    )


def test_missing_lists_unprovided_names_sorted(source: SecretSource) -> None:
    assert source.missing(["ZED", "ENV_ONLY", "ALPHA", "ZED", "FILE_ONLY"]) == ["ALPHA", "ZED"]


def test_folder_defaults_to_environment_setting_then_run_secrets(tmp_path: Path) -> None:
    assert SecretSource({}).secrets_dir == DEFAULT_SECRETS_DIR == Path("/run/secrets")
    assert SecretSource({"RUNNER_SECRETS_DIR": str(tmp_path)}).secrets_dir == tmp_path


def test_missing_folder_means_not_provided(tmp_path: Path) -> None:
    assert SecretSource({}, tmp_path / "absent").get("X") is None


@pytest.mark.parametrize(
    "name", ["../etc/passwd", "/etc/passwd", "a/b", "..", ".hidden", "", "x\0", "a\\b", "a b",
             "x" * 256]
)
def test_names_that_could_leave_the_folder_are_refused(source: SecretSource, name: str) -> None:
    with pytest.raises(SecretError, match="invalid secret name"):
        source.get(name)


def test_traversal_through_the_view_reads_nothing(folder: Path) -> None:
    (folder.parent / "outside").write_text("must not leak")
    view = SecretSource({}, folder).view(Redactor())
    with pytest.raises(SecretError, match="invalid secret name"):
        view["../outside"]
    assert "../outside" not in view


def test_unreadable_secret_is_an_error_without_its_content(folder: Path) -> None:
    (folder / "BINARY").write_bytes(b"\xff\xfes3cr3t-payload")
    (folder / "DIR").mkdir()
    source = SecretSource({}, folder)
    with pytest.raises(SecretError, match="not UTF-8") as caught:
        source.get("BINARY")
    assert "s3cr3t" not in str(caught.value)
    assert caught.value.__suppress_context__  # the decode error quoting its bytes is dropped
    with pytest.raises(SecretError, match="could not be read"):
        source.get("DIR")


def test_secret_key_of_32_characters_is_returned_as_bytes() -> None:
    key = "k" * 32
    assert SecretSource({"RUNNER_SECRET_KEY": key}, "/nonexistent").secret_key() == key.encode()


def test_secret_key_may_come_from_the_folder(folder: Path) -> None:
    (folder / "RUNNER_SECRET_KEY").write_text("f" * 40 + "\n")
    assert SecretSource({}, folder).secret_key() == b"f" * 40


def test_short_secret_key_is_refused_without_showing_it() -> None:
    source = SecretSource({"RUNNER_SECRET_KEY": "tooshort-but-secret"}, "/nonexistent")
    with pytest.raises(SecretError, match="at least 32 characters") as caught:
        source.secret_key()
    assert "tooshort-but-secret" not in str(caught.value)


def test_absent_secret_key_is_none() -> None:
    assert SecretSource({}, "/nonexistent").secret_key() is None


def _render(template: str, view: SecretsView) -> str:
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    return env.from_string(template).render(secrets=view)


def test_view_serves_templates_and_records_values_for_redaction(source: SecretSource) -> None:
    redactor = Redactor()
    view = source.view(redactor)
    rendered = _render("{{ secrets.ENV_ONLY }}/{{ secrets['FILE_ONLY'] }}", view)
    assert rendered == "from-env/from-file"
    assert redactor.redact_text("got from-env and from-file") == "got *** and ***"


def test_view_attribute_names_are_always_secrets(folder: Path) -> None:
    source = SecretSource({"get": "get-secret", "items": "items-secret"}, folder)
    view = source.view(Redactor())
    assert _render("{{ secrets.get }} {{ secrets.items }}", view) == "get-secret items-secret"


def test_view_missing_secret_is_a_clear_error(source: SecretSource) -> None:
    with pytest.raises(SecretError, match="secret NOPE is not provided"):
        _render("{{ secrets.NOPE }}", source.view(Redactor()))


def test_view_supports_membership_but_not_listing(source: SecretSource) -> None:
    view = source.view(Redactor())
    assert _render("{{ 'ENV_ONLY' in secrets }} {{ 'NOPE' in secrets }}", view) == "True False"
    assert repr(view) == "<secrets>"
    with pytest.raises(TypeError):
        iter(view)


def test_view_refuses_private_attributes_in_the_sandbox(source: SecretSource) -> None:
    with pytest.raises(jinja2.exceptions.SecurityError):
        _render("{{ secrets._source }}", source.view(Redactor()))
