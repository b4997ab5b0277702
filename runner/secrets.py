"""Secrets: where a secret's value comes from, and the `secrets` name that templates see."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypeGuard

from jinja2.runtime import StrictUndefined

from runner.errors import SecretError
from runner.redact import Redactor

__all__ = [
    "DEFAULT_SECRETS_DIR",
    "NAME_PATTERN",
    "SECRET_KEY_MIN_LENGTH",
    "SECRET_KEY_NAME",
    "MissingSecret",
    "SecretSource",
    "SecretsView",
    "check_name",
    "is_valid_name",
]

DEFAULT_SECRETS_DIR = Path("/run/secrets")  # the Docker / Kubernetes convention
SECRETS_DIR_VARIABLE = "RUNNER_SECRETS_DIR"
SECRET_KEY_NAME = "RUNNER_SECRET_KEY"
SECRET_KEY_MIN_LENGTH = 32

# Letters, digits, `_`, `-` and `.`, as container secret files are named (`db-password`,
# `token.txt`). Also what keeps a name inside the secrets folder: no `/`, and no leading `.`, so
# no `..` and no hidden files; at most 255 characters, the longest file name systems allow.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}")
NAME_RULE = "a name is letters, digits, _, - and ., not starting with ."


def is_valid_name(name: object) -> TypeGuard[str]:
    """Whether `name` may name a secret (an environment variable or a file in the folder)."""
    return isinstance(name, str) and NAME_PATTERN.fullmatch(name) is not None


def check_name(name: object) -> str:
    """The name, if it may name a secret; otherwise a SecretError saying what a name looks like."""
    if is_valid_name(name):
        return name
    shown = repr(name) if len(repr(name)) <= 60 else repr(name)[:57] + "..."
    raise SecretError(f"invalid secret name {shown}: {NAME_RULE}")


def _strip_newline(text: str) -> str:
    """Drop the one line ending that editors and `echo` add to a file, and nothing else."""
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


class SecretSource:
    """Looks secrets up: the environment variable NAME first, then the file NAME in the folder.

    An empty value counts as not provided (CI systems expand a missing secret to an empty string).
    Nothing is cached, so a rotated secret file is read afresh.
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        secrets_dir: str | Path | None = None,
    ) -> None:
        self.environ: Mapping[str, str] = os.environ if environ is None else environ
        if secrets_dir is None:
            secrets_dir = self.environ.get(SECRETS_DIR_VARIABLE) or DEFAULT_SECRETS_DIR
        self.secrets_dir = Path(secrets_dir)

    def get(self, name: str) -> str | None:
        """The secret's value, or None when it is not provided."""
        check_name(name)
        return self.environ.get(name) or self._read_file(name)

    def _read_file(self, name: str) -> str | None:
        path = self.secrets_dir / name
        try:
            text = path.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            message = f"secret {name} could not be read from {path}: {exc.strerror}"
            raise SecretError(message) from None
        except UnicodeDecodeError:
            # `from None`: the decode error would quote bytes of the secret.
            raise SecretError(f"secret {name} in {path} is not UTF-8 text") from None
        return _strip_newline(text) or None

    def is_provided(self, name: str) -> bool:
        """Whether `name` has a value; RUNNER_SECRET_KEY must also be long enough (a SecretError
        says so), so every check of the secrets documents need applies the key's rule too."""
        if name == SECRET_KEY_NAME:
            return self.secret_key() is not None
        return self.get(name) is not None

    def require(self, name: str) -> str:
        """The secret's value, or a SecretError telling the user both ways to provide it."""
        value = self.get(name)
        if value is None:
            raise SecretError(self.not_provided(name))
        return value

    def not_provided(self, name: str) -> str:
        return (f"secret {name} is not provided: set the environment variable {name} "
                f"or create the file {self.secrets_dir / name}")

    def missing(self, names: Iterable[str]) -> list[str]:
        """The names among `names` that are not provided, sorted: for `--strict` and start-up."""
        return sorted({name for name in names if not self.is_provided(name)})

    def secret_key(self) -> bytes | None:
        """RUNNER_SECRET_KEY as bytes, None if unset; too short a key is an error, not a warning."""
        value = self.get(SECRET_KEY_NAME)
        if value is None:
            return None
        if len(value) < SECRET_KEY_MIN_LENGTH:
            raise SecretError(
                f"{SECRET_KEY_NAME} is too short: it must be at least "
                f"{SECRET_KEY_MIN_LENGTH} characters"
            )
        return value.encode("utf-8")

    def view(self, redactor: Redactor) -> SecretsView:
        return SecretsView(self, redactor)


class MissingSecret(StrictUndefined):
    """A secret that is not provided, as templates see it: undefined, so `| default(...)` and
    `is defined` work as in Jinja, and any other use (printing it, sending it, comparing it)
    raises the SecretError that says how to provide it. A recipe never silently sends an empty
    credential."""

    __slots__ = ()

    def __init__(self, message: str) -> None:
        super().__init__(hint=message)
        self._undefined_exception = SecretError  # type: ignore[assignment]


class SecretsView:
    """The `secrets` name in templates: `secrets.NAME` or `secrets['NAME']`.

    Every value handed out is first recorded in the redactor, so it cannot reach a log or the job
    history. A missing secret is a `MissingSecret`: undefined for `default` and `is defined`, a
    SecretError for every other use. `'NAME' in secrets` tests for one too.
    The view has no public methods (so `secrets.get` is the secret named `get`) and cannot be
    iterated (so no template can list the environment). Values are cached for the view's life:
    make one per job.
    """

    __slots__ = ("_source", "_redactor", "_cache")
    __iter__ = None  # without this, Python would iterate through __getitem__(0), (1), ...

    def __init__(self, source: SecretSource, redactor: Redactor) -> None:
        self._source = source
        self._redactor = redactor
        self._cache: dict[str, str] = {}

    def __getitem__(self, name: str) -> str | MissingSecret:
        value = self._cache.get(name)
        if value is None:
            value = self._source.get(name)
            if value is None:
                return MissingSecret(self._source.not_provided(name))
            self._redactor.add(value)
            self._cache[name] = value
        return value

    def __getattr__(self, name: str) -> str | MissingSecret:
        if name.startswith("_"):  # the sandbox refuses these anyway; keeps copy/pickle sane
            raise AttributeError(name)
        return self[name]

    def __contains__(self, name: object) -> bool:
        return is_valid_name(name) and self._source.is_provided(name)

    def __repr__(self) -> str:
        return "<secrets>"
