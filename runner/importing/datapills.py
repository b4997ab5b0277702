"""Proposes datapills for a step's literal values: those equal to a value in the trigger sample.

The wizard's last step (replace static values with datapills), as comments a user accepts by hand:
equality of a literal is a hint, never proof, so nothing is replaced silently.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator


def read_trigger_sample(recipe_file: str, recipe_name: str) -> Any | None:
    """The `trigger` part of `samples/<recipe>.json` beside the recipe's file, None when absent."""
    path = Path(recipe_file).parent / "samples" / f"{recipe_name}.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("trigger")
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"{path}: not a sample file ({exc})") from exc


def _leaves(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, child in value.items():
            name = f"{path}.{key}" if str(key).isidentifier() else f"{path}[{json.dumps(key)}]"
            yield from _leaves(child, name)
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _leaves(child, f"{path}[{index}]")
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool) and value != "":
        yield path, value


def propose(request: dict[str, Any], trigger: Any) -> list[str]:
    """One note per literal of params/json/form equal to a trigger value: `where = {{ pill }}?`."""
    known: dict[str, str] = {}
    for path, value in _leaves(trigger, "trigger"):
        known.setdefault(json.dumps(value), path)
    notes = []
    for part in ("params", "json", "form"):
        if part not in request:
            continue
        for path, value in _leaves(request[part], part):
            if isinstance(value, str) and "{{" in value:
                continue
            pill = known.get(json.dumps(value))
            if pill is not None:
                notes.append(f"{path}: {json.dumps(value)} = {{{{ {pill} }}}}?")
    return notes
