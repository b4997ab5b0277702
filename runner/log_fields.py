"""The structured fields of a log record (what `extra=` added), found without a scan per line.

The redacting filter and the formatters both need them, once per line, and a daemon writes a
line per job. `LogRecord.__init__` always sets the same standard attributes in the same order and
`Logger.makeRecord` adds the extras after them, so the extras are the keys past that prefix:
slicing finds them instead of testing two dozen standard names on every line.
"""

from __future__ import annotations

import logging

_INIT_KEYS = tuple(vars(logging.LogRecord("", 0, "", 0, "", None, None)))  # in the order set

# Attributes a record has that are not `extra=` fields, including those logging adds later.
STANDARD = frozenset(_INIT_KEYS) | {"message", "asctime", "taskName"}


def extra_keys(record: logging.LogRecord) -> list[str]:
    """The record's `extra=` field names, in the order they were given (underscored included).

    A record whose attributes do not start with the standard ones in their usual order (built
    some other way) is checked name by name, so nothing is missed either way."""
    keys = list(record.__dict__)
    prefix = len(_INIT_KEYS)
    if len(keys) >= prefix and keys[0] == _INIT_KEYS[0] and keys[prefix - 1] == _INIT_KEYS[-1]:
        keys = keys[prefix:]
    return [key for key in keys if key not in STANDARD]
