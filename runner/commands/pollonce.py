"""`runner run` for a poll recipe without `--event`: poll once now; every record becomes a job.

It polls as a first poll with `initial: emit` would: no cursor, nothing seen before, so every
record found (one per key) becomes a job. Nothing is stored: the daemon's poll state is untouched.
"""

from __future__ import annotations

from typing import Any, TextIO

from runner.engine.polling import poll_once
from runner.engine.runtime import Runtime
from runner.recipe.compile import Recipe
from runner.triggers.poll import PollState


async def poll_events(runtime: Runtime, recipe: Recipe, out: TextIO | None) -> list[dict[str, Any]]:
    """The triggers of every record one poll finds; says how many on `out` when given."""
    outcome = await poll_once(runtime, recipe, PollState(initialized=True))
    if out is not None:
        more = " (max_pages reached; more pages remain)" if outcome.truncated else ""
        out.write(f"polled {outcome.records} records on {outcome.pages} page(s){more}\n")
    return outcome.events
