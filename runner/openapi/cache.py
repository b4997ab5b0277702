"""What reading an OpenAPI document costs once, kept on disk for the next `runner validate`.

Checking a document against the OpenAPI schema takes seconds for a large one (GitHub's REST
description is 13 MB), and a YAML document takes longer to parse than to check. The outcome is
kept in a cache folder under a key made of the file's bytes (SHA-256), so an edited document is
read again and an unchanged one, however it was copied or touched, is not. An entry that cannot
be read is treated as missing: the cache never makes validate fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

FORMAT = 1  # bump when what an entry holds changes


def cache_folder() -> Path | None:
    """`RUNNER_CACHE_DIR`, else `$XDG_CACHE_HOME/runner`, else `~/.cache/runner`; None when
    `RUNNER_CACHE_DIR` is `off`."""
    given = os.environ.get("RUNNER_CACHE_DIR", "").strip()
    if given.lower() == "off":
        return None
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "runner"


def content_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_entry(key: str) -> dict[str, Any] | None:
    folder = cache_folder()
    if folder is None:
        return None
    try:
        with open(folder / "openapi" / f"{key}.pickle", "rb") as handle:
            entry = pickle.load(handle)  # our own folder, written by us
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError):
        return None
    return entry if isinstance(entry, dict) and entry.get("format") == FORMAT else None


def store_entry(key: str, entry: dict[str, Any]) -> None:
    """Writes atomically (a reader never sees half an entry); silent when it cannot."""
    folder = cache_folder()
    if folder is None:
        return
    target = folder / "openapi"
    with contextlib.suppress(OSError, pickle.PicklingError):
        target.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as out:
                pickle.dump({**entry, "format": FORMAT}, out, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, target / f"{key}.pickle")
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
