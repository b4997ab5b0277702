"""Turning one job into a recipe's sample, keeping what the job did not run.

A sample is built up the way the wizard's "apply configuration" is: each run replaces the
trigger and the steps that ran; a step that was skipped or failed keeps the response recorded
before (an error answer is not what later steps read), and a step the recipe no longer has is
dropped, so the file never describes steps that are gone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.engine.records import JobRecord, StepRecord
from runner.samples.cut import cut_entry
from runner.samples.files import Sample

_RECORDED_KEYS = ("status", "headers", "body")
#: Headers that differ on every run and that no step reads as data: left out, so that
#: re-recording a sample shows a diff only where the API's answer changed.
VOLATILE_HEADERS = frozenset({"date", "content-length", "connection", "keep-alive",
                              "transfer-encoding"})


@dataclass
class Recording:
    """What one job gives a sample: entries by step id, and why the other steps gave none."""

    trigger: Any
    entries: dict[str, Any] = field(default_factory=dict)
    not_recorded: dict[str, str] = field(default_factory=dict)  # step id → why


def _entry(view: Any, limit: int) -> dict[str, Any] | None:
    if not isinstance(view, dict) or view.get("ok") is False or "status" not in view:
        return None
    entry = {key: view[key] for key in _RECORDED_KEYS if key in view}
    if isinstance(entry.get("headers"), dict):
        entry["headers"] = {name: value for name, value in entry["headers"].items()
                            if name.lower() not in VOLATILE_HEADERS}
    return cut_entry(entry, limit)


def recording(job: JobRecord, outputs: dict[str, Any], limit: int) -> Recording:
    """The sample entries of a finished job's steps; `outputs` are the steps' whole outputs,
    redacted (the job's stored ones may be cut as text)."""
    result = Recording(job.event)
    for step in job.steps:
        why = _why_not(step)
        if why is not None:
            result.not_recorded[step.id] = why
            continue
        output = outputs.get(step.id, step.output)
        if isinstance(output, list):
            entries = [_entry(view, limit) for view in output]
            kept = [entry for entry in entries if entry is not None]
            if kept:
                result.entries[step.id] = kept
            else:
                result.not_recorded[step.id] = "no element sent a request"
        elif (entry := _entry(output, limit)) is not None:
            result.entries[step.id] = entry
        else:
            result.not_recorded[step.id] = "it failed"
    return result


def _why_not(step: StepRecord) -> str | None:
    if step.status == "skipped":
        return "it was skipped"
    if step.status == "failed":
        return "it failed"
    return None


def merged(old: Sample | None, path: Path, new: Recording, step_ids: Iterable[str]) -> Sample:
    """The sample after `new`: its trigger and entries over the old ones, steps gone dropped."""
    ids = list(step_ids)
    steps = {step_id: old.steps[step_id] for step_id in ids
             if old is not None and step_id in old.steps}
    steps.update(new.entries)
    return Sample(path, new.trigger, {step_id: steps[step_id] for step_id in ids
                                      if step_id in steps})
