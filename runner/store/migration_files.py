"""The numbered migration files a store ships (`migrations/<backend>/NNNN_name.sql`), in order."""

from __future__ import annotations

import re
from importlib import resources

from runner.errors import StoreError

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


def migration_files(backend: str) -> list[tuple[int, str, str]]:
    """`(version, name, sql)` of every migration of `backend` (two files with one number are
    a bug)."""
    folder = resources.files("runner.store").joinpath("migrations", backend)
    found: dict[int, tuple[int, str, str]] = {}
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match is None:
            continue
        version = int(match.group(1))
        if version in found:
            raise StoreError(f"two {backend} migrations are numbered {version:04d}")
        found[version] = (version, match.group(2), entry.read_text("utf-8"))
    return [found[v] for v in sorted(found)]


def pending_versions(applied: set[int], versions: list[int]) -> list[int]:
    """The versions still to apply, in order; refuses a store a newer runner has migrated."""
    newest = max(versions, default=0)
    if applied and max(applied) > newest:
        raise StoreError(
            f"the store's schema is version {max(applied)}, newer than this runner knows"
            f" ({newest}): upgrade the runner"
        )
    return [v for v in versions if v not in applied]
