"""The hot-path JSON encoder gives what the standard library would read back the same way."""

import json

import pytest
from multidict import CIMultiDict, istr

from runner.jsoncodec import dumps, dumps_body, dumps_loose


def test_plain_values_encode_compactly_and_read_back() -> None:
    value = {"id": 42, "name": "Ada", "tags": ["a", "é"], "nested": {"ok": True, "none": None}}
    text = dumps(value)
    assert " " not in text
    assert json.loads(text) == value


def test_header_names_from_multidict_are_written_as_text() -> None:
    headers = CIMultiDict({istr("Content-Type"): "application/json"})
    assert json.loads(dumps(dict(headers.items()))) == {"Content-Type": "application/json"}


def test_values_orjson_refuses_fall_back_to_the_standard_library() -> None:
    big = 2**70  # past 64 bits: kept exact, not turned into a float
    assert json.loads(dumps({"id": big})) == {"id": big}
    lone = "\ud800"  # a lone surrogate: valid in JSON as an escape, storable as ASCII text
    text = dumps({"s": lone})
    assert text.isascii() and json.loads(text) == {"s": lone}


def test_not_a_number_is_written_as_null() -> None:
    assert json.loads(dumps({"x": float("nan")})) == {"x": None}


def test_log_fields_json_cannot_hold_are_written_as_text() -> None:
    class Thing:
        def __str__(self) -> str:
            return "a thing"

    assert json.loads(dumps_loose({"what": Thing(), "n": 2**70})) == {"what": "a thing", "n": 2**70}


def test_request_bodies_read_back_as_the_value_sent() -> None:
    value = {"id": 2**70, "name": "Zoë", "n": 1e16, "none": None, 1: "int-key", "nullable": "null"}
    for sample in (value, {"plain": [1, 2.5, True, "x"]}, [], "text"):
        sent = dumps_body(sample)
        assert b" " not in sent  # compact
        expected = json.loads(json.dumps(sample))
        assert json.loads(sent) == expected
    assert "Zoë".encode() in dumps_body(value)


def test_request_bodies_refuse_what_json_cannot_hold() -> None:
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="Out of range float values"):
            dumps_body({"amount": [bad]})
    with pytest.raises(ValueError):  # a lone surrogate cannot become UTF-8
        dumps_body({"s": "\ud800"})
    with pytest.raises(TypeError):
        dumps_body({"when": object()})


def test_records_encode_as_their_json_form_on_both_paths() -> None:
    from runner.engine.records import AttemptRecord, CallRecord, RequestRecord, StepRecord

    call = CallRecord(None, RequestRecord("POST", "https://x/y", [("A", "b")], "{}"),
                      attempts=[AttemptRecord("2026-11-28T00:00:00+00:00", 1.5, 200)])
    for output in ({"id": 1}, {"id": 2**70, "s": "\ud800"}):  # orjson, then the fallback
        step = StepRecord("s1", "succeeded", "2026-11-28T00:00:00+00:00", 2.0, [call], output)
        assert json.loads(dumps(step)) == json.loads(dumps(step.to_json()))
        assert StepRecord.from_json(json.loads(dumps(step))) == step
