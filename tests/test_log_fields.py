"""Finding a log record's `extra=` fields: past the standard attributes, in the order given."""

from __future__ import annotations

import logging
import pickle

from runner.log_fields import STANDARD, extra_keys


def record_with(extra: dict[str, object]) -> logging.LogRecord:
    return logging.getLogger("t").makeRecord(
        "t", logging.INFO, __file__, 1, "msg", (), None, extra=extra
    )


def test_the_extras_come_back_in_the_order_given() -> None:
    record = record_with({"job": "j1", "recipe": "r", "_private": 1, "steps": 2})
    assert extra_keys(record) == ["job", "recipe", "_private", "steps"]
    assert extra_keys(record_with({})) == []


def test_attributes_logging_adds_later_are_not_extras() -> None:
    record = record_with({"job": "j1"})
    logging.Formatter("%(asctime)s %(message)s").format(record)  # sets message and asctime
    assert extra_keys(record) == ["job"]


def test_a_record_rebuilt_from_its_fields_keeps_its_extras() -> None:
    """As a socket or queue listener rebuilds records (`makeLogRecord`)."""
    original = record_with({"job": "j1", "status": "failed"})
    rebuilt = logging.makeLogRecord(pickle.loads(pickle.dumps(vars(original))))
    assert extra_keys(rebuilt) == ["job", "status"]


def test_a_record_built_another_way_is_checked_name_by_name() -> None:
    class Odd:
        pass

    odd = Odd()
    odd.__dict__.update({"job": "j1", "levelname": "INFO", "recipe": "r", "message": "m"})
    assert extra_keys(odd) == ["job", "recipe"]  # type: ignore[arg-type]
    assert "levelname" in STANDARD and "message" in STANDARD
