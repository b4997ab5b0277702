"""The job store: `open_store(url)` builds the implementation a store URL names.

    sqlite:///relative/path.db     SQLite file, relative to the working directory
    sqlite:////absolute/path.db    SQLite file, absolute path
    sqlite://:memory:              SQLite in memory, gone on close (tests, dry runs)
    postgresql://user:password@host:5432/database     PostgreSQL, shared by replicas
                                                      (`postgres://` too)

Options go in the query string (`?synchronous=normal`, `?schema=runner&pool_max=20`); see
`runner.store.sqlite` and `runner.store.postgres`.
"""

from __future__ import annotations

from collections.abc import Callable

from runner.errors import StoreError
from runner.store.base import JobMissing, LeaseLost, Store

__all__ = ["JobMissing", "LeaseLost", "Store", "StoreError", "open_store"]


def _sqlite(url: str) -> Store:
    from runner.store.sqlite import SQLiteStore

    return SQLiteStore.from_url(url)


def _postgres(url: str) -> Store:
    from runner.store.postgres import PostgresStore

    return PostgresStore.from_url(url)


# URL scheme -> factory; each imports its module when used, so a driver loads only when needed.
_IMPLEMENTATIONS: dict[str, Callable[[str], Store]] = {
    "sqlite": _sqlite,
    "postgresql": _postgres,
    "postgres": _postgres,
}


def open_store(url: str) -> Store:
    """The store a URL names, not yet opened: `await store.open()` or `async with store:`."""
    scheme, separator, _ = url.partition("://")
    factory = _IMPLEMENTATIONS.get(scheme.lower()) if separator else None
    if factory is None:
        known = ", ".join(f"{name}://" for name in _IMPLEMENTATIONS)
        # Only the scheme is quoted: the rest of a URL may hold a password.
        raise StoreError(f"unsupported store URL scheme {scheme!r}: expected {known}")
    return factory(url)
