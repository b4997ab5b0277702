"""Where things went wrong, and the exception tree every user-facing error belongs to.

    RunnerError                     base: every error the runner reports to a user
    ├── DocumentError               a document could not be read or is invalid (carries diagnostics)
    ├── TemplateError               a template failed to compile or render
    │   └── UndefinedError          a datapill named something that does not exist
    ├── StepError                   a step of a job failed (names recipe, step, method, URL)
    │   └── HTTPStatusError         a response arrived with a status the step did not expect
    ├── EgressError                 a request was refused by the egress policy
    ├── AuthError                   credentials could not be obtained or were refused
    ├── SecretError                 a secret that a document uses is not provided
    │   └── FileNotProvided         a file a document names (TLS) is not there or unreadable
    └── StoreError                  the job store failed

Every error carries enough context to be located: a `Location` (file:line:column) for documents,
recipe / job / step names for runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Location:
    """A position in a document: 1-based line and column, as editors show them."""

    file: str
    line: int = 1
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a document: a kebab-case code, a message and where it is."""

    code: str
    message: str
    location: Location
    severity: Severity = "error"
    # The data path of the value concerned, where the loader knows it (not shown to users).
    path: tuple[str | int, ...] | None = field(default=None, compare=False, repr=False)

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.location.file, self.location.line, self.location.column, self.message)

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class RunnerError(Exception):
    """The runner failed."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())

    @property
    def message(self) -> str:
        return str(self)


class DocumentError(RunnerError):
    """The documents are invalid."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        super().__init__("\n".join(str(d) for d in self.diagnostics) or None)


class TemplateError(RunnerError):
    """A template failed to compile or render."""


class UndefinedError(TemplateError):
    """A datapill refers to something that does not exist."""


class StepError(RunnerError):
    """A step failed."""


class HTTPStatusError(StepError):
    """A response arrived with a status the step does not accept."""


class EgressError(RunnerError):
    """The request was refused by the egress policy."""


class AuthError(RunnerError):
    """Credentials could not be obtained or were refused."""


class SecretError(RunnerError):
    """A secret is not provided."""


class FileNotProvided(SecretError):
    """A file a document names (a TLS certificate or key) is missing or unreadable: like a
    secret not provided, the environment's problem (exit 2), not the document's."""


class StoreError(RunnerError):
    """The job store failed."""


class StoreUnavailable(StoreError):
    """The store could not be reached or written for now (a lost connection, a lock held by
    another process, a full disk): the same write may well succeed later, unlike a write the
    store refuses for what it holds."""
