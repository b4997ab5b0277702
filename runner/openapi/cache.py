"""Parsed documents and their problems on disk, so a 13 MB description is checked once.

An entry is keyed by the SHA-256 of the file's bytes (and this format's version), so an edited
file is a new entry and a copy elsewhere reuses it; hashing 13 MB costs ~10 ms. Entries are JSON
written with orjson (reading one back runs no code, unlike a pickle, and is as fast). JSON files
keep only their problems (parsing the file again costs the same as reading a copy); YAML files
keep their values too (PyYAML is ~50 times slower than orjson). The folder is
`RUNNER_CACHE_DIR`, else `$XDG_CACHE_HOME/runner`, else `~/.cache/runner`; it keeps the
`MAX_ENTRIES` newest entries. A cache that cannot be read or written is skipped silently: it
only saves time.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

FORMAT = 3
MAX_ENTRIES = 32

Pointer = tuple[str | int, ...]


@dataclass
class Entry:
    """What is kept of one document: its values (None: parse the file again), its problems,
    each `(pointer, message, line, column)`, and its `$ref`s to other files `(pointer, ref)`
    (checked on every load: those files may change)."""

    data: Any
    version: str | None
    problems: list[tuple[Pointer, str, int, int]]
    external: list[tuple[Pointer, str]] = field(default_factory=list)


def cache_dir() -> Path:
    if os.environ.get("RUNNER_CACHE_DIR"):
        return Path(os.environ["RUNNER_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "runner"
    return Path.home() / ".cache" / "runner"


def key_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _folder() -> Path:
    return cache_dir() / "openapi"


def _file(key: str) -> Path:
    return _folder() / f"{key}-{FORMAT}.json"


def read(key: str) -> Entry | None:
    try:
        stored = orjson.loads(_file(key).read_bytes())
        return Entry(stored["data"], stored["version"],
                     [(tuple(p), m, line, column) for p, m, line, column in stored["problems"]],
                     [(tuple(p), ref) for p, ref in stored["external"]])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def write(key: str, entry: Entry) -> None:
    """Writes atomically (a temporary file renamed), so a reader never sees half an entry."""
    target = _file(key)
    name = None
    try:
        text = orjson.dumps({"data": entry.data, "version": entry.version,
                             "problems": entry.problems, "external": entry.external})
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=target.parent, delete=False) as handle:
            name = handle.name
            handle.write(text)
        os.replace(name, target)
        _prune(target.parent)
    except (OSError, TypeError, orjson.JSONEncodeError):
        if name is not None:
            try:
                os.unlink(name)
            except OSError:
                pass


def _prune(folder: Path) -> None:
    """Keeps the newest `MAX_ENTRIES` entries: old versions of a document are never read again."""
    entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        try:
            old.unlink()
        except OSError:
            pass
