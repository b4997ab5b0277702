"""Where a recipe's sample lives, and reading and writing it as a reviewable file.

`samples/<recipe name>.json` beside the recipe's file holds what one real job saw:
`{"trigger": {...}, "steps": {"<step id>": {"status", "headers", "body"}}}`. It is written with
sorted keys, two-space indents and real (not escaped) Unicode so that a pull request shows a
readable diff, and it is read back strictly: a file that is not that shape is a located error,
never a silent "no sample".
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.errors import Location

SAMPLES_DIR = "samples"
_NO_TRIGGER: Any = object()


@dataclass(frozen=True)
class Sample:
    """One recipe's sample. `trigger` is absent (`has_trigger` false) when none was recorded."""

    path: Path
    trigger: Any = _NO_TRIGGER
    steps: dict[str, Any] = field(default_factory=dict)

    @property
    def has_trigger(self) -> bool:
        return self.trigger is not _NO_TRIGGER

    def as_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"steps": self.steps}
        if self.has_trigger:
            data["trigger"] = self.trigger
        return data


class SampleError(Exception):
    """A sample file that cannot be used, and where."""

    def __init__(self, message: str, location: Location) -> None:
        super().__init__(f"{location}: {message}")
        self.reason, self.location = message, location


def sample_path(recipe_file: str | os.PathLike[str], recipe_name: str) -> Path:
    """`samples/<recipe name>.json` in the folder of the recipe's file."""
    return Path(recipe_file).parent / SAMPLES_DIR / f"{recipe_name}.json"


def shown_path(path: Path, recipe_file: str | os.PathLike[str]) -> str:
    """The sample's path as a message names it: relative to the recipe's folder."""
    try:
        return path.relative_to(Path(recipe_file).parent).as_posix()
    except ValueError:
        return path.as_posix()


def read_sample(path: Path) -> Sample | None:
    """The sample at `path`, None when there is no such file; `SampleError` when it is not one."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise SampleError(f"cannot read the sample: {exc}", Location(str(path))) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SampleError(f"the sample is not valid JSON: {exc.msg}",
                          Location(str(path), exc.lineno, exc.colno)) from exc
    except RecursionError as exc:
        raise SampleError("the sample nests too deeply", Location(str(path))) from exc
    return _parsed(path, data)


def _parsed(path: Path, data: Any) -> Sample:
    where = Location(str(path))
    if not isinstance(data, dict):
        raise SampleError('a sample is a JSON object {"trigger": {...}, "steps": {...}}', where)
    unknown = sorted(set(data) - {"trigger", "steps"})
    if unknown:
        raise SampleError(f"unknown key(s) {', '.join(map(repr, unknown))} in the sample; "
                          "it holds only 'trigger' and 'steps'", where)
    steps = data.get("steps", {})
    if not isinstance(steps, dict):
        raise SampleError('"steps" is an object of step id → {"status", "headers", "body"}',
                          where)
    for step_id, entry in steps.items():
        views = entry if isinstance(entry, list) else [entry]
        if not all(isinstance(view, dict) for view in views):
            raise SampleError(f'steps.{step_id} is a {{"status", "headers", "body"}} object '
                              "(a list of them for a for_each step)", where)
    if "trigger" in data:
        return Sample(path, data["trigger"], steps)
    return Sample(path, steps=steps)


def sample_text(sample: Sample) -> str:
    """The file's text: sorted keys, two-space indents, Unicode as it is, a final newline."""
    return json.dumps(sample.as_data(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_sample(sample: Sample) -> None:
    """Replaces the file in one step (a crash leaves the old file or the new, never half)."""
    sample.path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=sample.path.parent, prefix=".sample-",
                                         suffix=".json")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(sample_text(sample))
        os.replace(temporary, sample.path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
