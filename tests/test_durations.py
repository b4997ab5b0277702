"""Durations and sizes as documents write them."""

from __future__ import annotations

import pytest

from runner.durations import parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("250ms", 0.25),
        ("1d", 86400.0),
        ("1.5s", 1.5),
        ("5 m", 300.0),
        (" 10s ", 10.0),
        ("30", 30.0),
        ("0.5", 0.5),
        (30, 30.0),
        (0.25, 0.25),
        (0, 0.0),
    ],
)
def test_duration_reads_units_and_bare_seconds(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_duration_error_says_what_is_expected() -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration("5 minutes")
    assert str(caught.value) == (
        "expected a duration like 30s, 5m, 1h, 250ms, 1d or a number of seconds, got '5 minutes'"
    )


@pytest.mark.parametrize("value", ["-5s", "-1", -1, -0.5])
def test_negative_duration_is_refused(value: str | float) -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        parse_duration(value)


@pytest.mark.parametrize(
    "value", ["", "s", "5M", "5 minutes", "5sec", "1h30m", "1e3", True, float("nan"), float("inf")]
)
def test_malformed_duration_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(value)  # type: ignore[arg-type]


def test_huge_duration_is_refused_not_infinite() -> None:
    with pytest.raises(ValueError, match="too large"):
        parse_duration("9" * 400 + "d")
    with pytest.raises(ValueError, match="too large"):
        parse_duration(10**400)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512KiB", 512 * 1024),
        ("1MiB", 1024**2),
        ("1GiB", 1024**3),
        ("10KB", 10_000),
        ("1MB", 1_000_000),
        ("2GB", 2_000_000_000),
        ("1 MiB", 1024**2),
        ("1.5KiB", 1536),
        ("100B", 100),
        ("100", 100),
        (4096, 4096),
        (4096.0, 4096),
        ("0", 0),
    ],
)
def test_size_reads_binary_decimal_and_bare_bytes(text: str | float, size: int) -> None:
    assert parse_size(text) == size


def test_size_error_says_what_is_expected() -> None:
    with pytest.raises(ValueError) as caught:
        parse_size("12 apples")
    assert str(caught.value) == (
        "expected a size like 512KiB, 1MiB, 1GiB, 10KB, 1MB or a number of bytes, got '12 apples'"
    )


@pytest.mark.parametrize("value", ["-1KiB", -1])
def test_negative_size_is_refused(value: str | int) -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        parse_size(value)


@pytest.mark.parametrize("value", ["1.5", 1.5])
def test_fractional_bytes_are_refused(value: str | float) -> None:
    with pytest.raises(ValueError, match="whole"):
        parse_size(value)


@pytest.mark.parametrize("value", ["", "KiB", "1XB", "1mib", "1kb", "1TiB", "1 KiB KiB", False])
def test_malformed_size_is_refused(value: object) -> None:
    with pytest.raises(ValueError, match="expected a size"):
        parse_size(value)  # type: ignore[arg-type]
