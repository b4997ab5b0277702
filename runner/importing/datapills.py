"""Proposes datapills for a step's literal values: those equal to a value in the trigger sample.

The wizard's last step (replace static values with datapills), as comments a user accepts by hand:
equality of a literal is a hint, never proof, so nothing is replaced silently.
"""

from __future__ import annotations

import json
from typing import Any, Iterator


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
