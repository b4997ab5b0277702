"""Guards on Jinja's own filters and on str methods that can build huge strings in one C call.

Each check refuses, before the call, a result that would pass the render limit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from runner.errors import TemplateError
from runner.templating.values import MAX_INT_BITS, check_size

_PRINTF_FIELD = re.compile(r"%[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_FIELD = re.compile(r"\{\{|\{[^{}]*(\{)?")  # '{{' is an escaped brace, not a field


def check_number(number: Any) -> None:
    if isinstance(number, int) and not isinstance(number, bool):
        check_size(number)


def check_printf(fmt: Any, args: Any) -> None:
    """`'%999999999d' % 1` would allocate the width before any output limit applies."""
    if not isinstance(fmt, str) or "%" not in fmt:
        return
    for width, precision in _PRINTF_FIELD.findall(fmt):
        for number in (width, precision):
            if number == "*":
                for arg in args if isinstance(args, tuple) else (args,):
                    check_number(arg)
            elif number:
                check_size(int(number[:12]))


def check_format(fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    for field in _FORMAT_FIELD.finditer(fmt):
        if field.group(0) == "{{":
            continue
        for number in re.findall(r"\d+", field.group(0)):
            check_size(int(number[:12]))
        if field.group(1):  # a nested width such as '{:{}}' takes it from the arguments
            for arg in (*args, *kwargs.values(), *(v for a in args if isinstance(a, Mapping)
                                                   for v in a.values())):
                check_number(arg)


def check_replace(text: Any, old: Any, new: Any, count: Any = None) -> None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    if len(new) <= len(old):
        return
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    check_size(len(text) + hits * (len(new) - len(old)))


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Bound `*`, `**`, `+` and `%` before Python builds the result."""
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                check_size(len(seq) * times)
                return
        ints = isinstance(left, int) and isinstance(right, int)
        if ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise TemplateError("number too large")
    elif operator == "**":
        ints = isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1
        if ints and left.bit_length() * right > MAX_INT_BITS:
            raise TemplateError("number too large")
    elif operator == "+":
        if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            check_size(len(left) + len(right))
    elif operator == "%":
        check_printf(left, right)


def check_call(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Bound the str methods that take a size: center, ljust, rjust, zfill, expandtabs, ..."""
    target = getattr(func, "__wrapped__", func)  # the sandbox wraps str.format
    owner = getattr(target, "__self__", None)
    if not isinstance(owner, str):
        return
    name = getattr(target, "__name__", "")
    if name in ("center", "ljust", "rjust", "zfill") and args:
        check_number(args[0])
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int):
            check_size(len(owner) + owner.count("\t") * size)
    elif name == "replace":
        check_replace(owner, *args[:3])
    elif name in ("format", "format_map"):
        check_format(owner, args, kwargs)
