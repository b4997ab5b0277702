"""Turning what was sent and received into job records: redacted, bodies cut at the body limit.

Redaction happens on the whole body before it is cut, so a secret that straddles the cut can
never leave half of itself behind.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from runner.engine.records import CallRecord, RequestRecord, ResponseRecord
from runner.http.client import Exchange, OutgoingRequest
from runner.jsoncodec import dumps
from runner.redact import Redactor

__all__ = ["cut_body", "cut_output", "fill_call", "request_record"]


def cut_body(data: bytes | None, redactor: Redactor, limit: int) -> tuple[str | None, bool]:
    """A body as stored: redacted text cut at `limit` bytes, and whether it was cut.

    Bytes that are not UTF-8 (an image, a zip) are stored as a note of their size: replacement
    characters would only look like data.
    """
    if data is None:
        return None, False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return f"({len(data)} bytes of binary data, not shown)", False
    encoded = redactor.redact_text(text).encode("utf-8")
    if len(encoded) <= limit:
        return encoded.decode("utf-8"), False
    return encoded[:limit].decode("utf-8", errors="ignore"), True


def cut_output(output: Any, limit: int) -> Any:
    """A step's stored output with each response body longer than `limit` bytes cut, as the
    calls' bodies are: the body becomes the start of its JSON text and `body_truncated` is set.
    Called on the redacted output (so no secret is cut in half), and only for a step one of
    whose responses was cut: the running job keeps the whole body for later steps."""
    if isinstance(output, list):
        return [cut_output(item, limit) for item in output]
    if not isinstance(output, dict) or "body" not in output:
        return output
    body = output["body"]
    text = body if isinstance(body, str) else dumps(body)
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return output
    return {**output, "body": encoded[:limit].decode("utf-8", errors="ignore"),
            "body_truncated": True}


def request_record(
    request: OutgoingRequest, redactor: Redactor, limit: int,
    url: str | None = None, headers: Iterable[tuple[str, str]] | None = None,
) -> RequestRecord:
    """The request as sent (`url`/`headers` given) or as rendered (a dry run: no auth yet)."""
    if url is None:
        url = str(request.url.extend_query(request.params) if request.params else request.url)
    pairs = list(headers if headers is not None else request.headers.items())
    body, cut = cut_body(request.data, redactor, limit)
    return RequestRecord(
        request.method, redactor.redact_url(url), redactor.redact_header_pairs(pairs), body, cut
    )


def fill_call(call: CallRecord, exchange: Exchange, redactor: Redactor, limit: int) -> None:
    """Copies an exchange into its call record: what went out, what came back, each attempt."""
    call.attempts = exchange.attempts
    for attempt in call.attempts:
        attempt.error = None if attempt.error is None else redactor.redact_text(attempt.error)
    if exchange.sent_url is not None:
        sent_headers = exchange.sent_headers.items() if exchange.sent_headers is not None else None
        call.request = request_record(
            exchange.request, redactor, limit, str(exchange.sent_url), sent_headers
        )
    call.redirects = [redactor.redact_url(str(url)) for url in exchange.redirects]
    if exchange.status is None:
        return
    body, cut = cut_body(exchange.body, redactor, limit)
    headers = list(exchange.headers.items()) if exchange.headers is not None else []
    call.response = ResponseRecord(
        exchange.status, exchange.reason, redactor.redact_header_pairs(headers), body, cut
    )
