"""What a job leaves behind: its event, each step's request and response, timings and outcome.

These records are what `runner run` prints, what the store keeps and what `runner jobs show`
reads back, so they are plain JSON-able dataclasses. Everything in them has been redacted (secret
values and credential headers are `***`) and bodies are cut at `body_limit` before they get here.
A step's `output` is the value later templates see as `steps.<id>`; it is kept whole (redacted),
because a job resumed after a crash needs it to render the steps that follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

JobStatus = Literal["queued", "running", "succeeded", "failed"]
StepStatus = Literal["succeeded", "failed", "skipped"]


@dataclass
class RequestRecord:
    """A request as it was sent (redacted); `body` is text cut at the body limit."""

    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None
    body_truncated: bool = False


@dataclass
class ResponseRecord:
    """A response as it arrived (redacted); `body` is text cut at the body limit."""

    status: int
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None
    body_truncated: bool = False


@dataclass
class AttemptRecord:
    """One try of a request: what came back or why nothing did, and how long it took."""

    started_at: str
    duration_ms: float
    status: int | None = None
    error: str | None = None
    waited_ms: float = 0.0  # time slept before this attempt (backoff / Retry-After)


@dataclass
class CallRecord:
    """One request of a step (a step with `for_each` makes one per item)."""

    index: int | None
    request: RequestRecord | None
    response: ResponseRecord | None = None
    attempts: list[AttemptRecord] = field(default_factory=list)
    error: str | None = None  # why this call failed, or why a skipped call was not sent
    skipped: bool = False
    redirects: list[str] = field(default_factory=list)  # each Location followed, in order


@dataclass
class StepRecord:
    """The outcome of one step, and the value later steps see as `steps.<id>`."""

    id: str
    status: StepStatus
    started_at: str
    duration_ms: float
    calls: list[CallRecord] = field(default_factory=list)
    output: Any = None
    error: str | None = None
    reused_from: str | None = None  # the job that ran this step, for a step a retry reused

    def to_json(self) -> dict[str, Any]:
        data = dict(vars(self))
        data["calls"] = [_call_to_json(call) for call in self.calls]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StepRecord:
        calls = [_call_from_json(c) for c in data.get("calls", [])]
        return cls(**{**data, "calls": calls})


@dataclass
class JobRecord:
    """One job: the trigger event, the steps run so far, and how it ended."""

    id: str
    recipe: str
    status: JobStatus
    event: dict[str, Any]
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    steps: list[StepRecord] = field(default_factory=list)
    error: str | None = None
    replay_of: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = dict(vars(self))
        data["steps"] = [step.to_json() for step in self.steps]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobRecord:
        steps = [StepRecord.from_json(s) for s in data.get("steps", [])]
        return cls(**{**data, "steps": steps})


def _call_to_json(call: CallRecord) -> dict[str, Any]:
    """A call as JSON data: shallow copies suffice, the leaves are already plain values
    (`dataclasses.asdict` deep-copies every value, a measurable cost per job)."""
    data = dict(vars(call))
    data["request"] = None if call.request is None else dict(vars(call.request))
    data["response"] = None if call.response is None else dict(vars(call.response))
    data["attempts"] = [dict(vars(attempt)) for attempt in call.attempts]
    return data


def _call_from_json(data: dict[str, Any]) -> CallRecord:
    request = data.get("request")
    response = data.get("response")
    return CallRecord(
        index=data.get("index"),
        request=_with_pairs(RequestRecord, request) if request else None,
        response=_with_pairs(ResponseRecord, response) if response else None,
        attempts=[AttemptRecord(**a) for a in data.get("attempts", [])],
        error=data.get("error"),
        skipped=data.get("skipped", False),
        redirects=list(data.get("redirects", [])),
    )


def _with_pairs(cls: Any, data: dict[str, Any]) -> Any:
    headers = [tuple(pair) for pair in data.get("headers", [])]
    return cls(**{**data, "headers": headers})
