"""The jobs page's filters, read from its query string, and the pages' other untrusted inputs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import get_args
from urllib.parse import urlencode

from runner.engine.records import JobStatus

STATUSES: tuple[str, ...] = get_args(JobStatus)  # queued, running, succeeded, failed


@dataclass
class JobFilters:
    recipe: str | None = None
    status: str | None = None
    since: str | None = None  # as typed: `2026-12-07T09:30` (UTC), compared as text
    until: str | None = None
    job_id: str | None = None
    before: str | None = None
    error: str | None = None  # what is wrong with the query, shown above the (empty) list

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> JobFilters:
        def value(name: str) -> str | None:
            text = query.get(name, "").strip()
            return text or None

        filters = cls(value("recipe"), value("status"), value("since"), value("until"),
                      value("id"), value("before"))
        if filters.status is not None and filters.status not in STATUSES:
            filters.error = f"Status must be one of {', '.join(STATUSES)}, not {filters.status!r}."
        for name in ("since", "until"):
            text = getattr(filters, name)
            if text is None:
                continue
            moment = utc_text(text)
            if moment is None:
                filters.error = (f"{name.capitalize()} must be a date and time like "
                                 f"2026-12-07T09:30 (UTC), not {text!r}.")
            setattr(filters, name, moment or text)
        return filters

    @property
    def active(self) -> bool:
        return any((self.recipe, self.status, self.since, self.until))

    def link(self, **changes: str | None) -> str:
        """This page's URL with `changes` (None drops a parameter)."""
        changed = replace(self, **changes)  # type: ignore[arg-type]
        params = {"recipe": changed.recipe, "status": changed.status, "since": changed.since,
                  "until": changed.until, "before": changed.before}
        query = urlencode({k: v for k, v in params.items() if v})
        return f"/ui/jobs?{query}" if query else "/ui/jobs"


def utc_text(text: str) -> str | None:
    """`2026-12-07T09:30:00` for what a person or a datetime-local field types (naive is UTC,
    an offset is converted), so that it compares as text with the stored timestamps."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="seconds")


def safe_next(target: str | None) -> str:
    """Where to go after logging in: only a page of ours, never another site (`//evil`)."""
    if not target or not target.startswith("/ui/") or target.startswith("//") or "\\" in target:
        return "/ui/"
    return target
