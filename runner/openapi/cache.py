"""Parsed documents and their problems on disk, so a 13 MB description is checked once.

An entry is keyed by the SHA-256 of the file's bytes (and this format's version), so an edited
file is a new entry and a copy elsewhere reuses it; hashing 13 MB costs ~10 ms. JSON files keep
only their problems (orjson parses faster than pickle loads); YAML files keep their values too.
The folder is `RUNNER_CACHE_DIR`, else `$XDG_CACHE_HOME/runner`, else `~/.cache/runner`. A
cache that cannot be read or written is skipped silently: it only saves time.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = 2


@dataclass
class Entry:
    """What is kept of one document: its values (None: parse the file again), its problems,
    each `(pointer, message, line, column)`, and its `$ref`s to other files `(pointer, ref)`
    (checked on every load: those files may change)."""

    data: Any
    version: str | None
    problems: list[tuple[tuple[str | int, ...], str, int, int]]
    external: list[tuple[tuple[str | int, ...], str]] = field(default_factory=list)


def cache_dir() -> Path:
    if os.environ.get("RUNNER_CACHE_DIR"):
        return Path(os.environ["RUNNER_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "runner"
    return Path.home() / ".cache" / "runner"


def key_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _file(key: str) -> Path:
    return cache_dir() / "openapi" / f"{key}-{FORMAT}.pickle"


def read(key: str) -> Entry | None:
    try:
        with _file(key).open("rb") as handle:
            entry = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    return entry if isinstance(entry, Entry) else None


def write(key: str, entry: Entry) -> None:
    """Writes atomically (a temporary file renamed), so a reader never sees half an entry."""
    target = _file(key)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=target.parent, delete=False) as handle:
            pickle.dump(entry, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, target)
    except (OSError, pickle.PicklingError, RecursionError):
        try:
            os.unlink(handle.name)
        except (OSError, NameError, UnboundLocalError):
            pass
