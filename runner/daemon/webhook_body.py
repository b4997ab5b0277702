"""A webhook's body as templates see it: JSON parsed, a form as a mapping, anything else text.

Forms come two ways and both become a mapping of field names to values: urlencoded
(`application/x-www-form-urlencoded`) and `multipart/form-data` (what an HTML form with a file
input posts, and what `curl -F` sends). A field given more than once keeps its last value, as
for query parameters. A file field becomes `{filename, content_type, size, content}` with the
content as text (UTF-8 unless the part names a charset; bytes that are not text are replaced,
so binary files do not arrive intact: send those base64-encoded in a field instead).

Multipart is parsed with the standard library's e-mail parser, which implements MIME (the
boundary, per-part headers, RFC 2231 names, transfer encodings); the body was already read and
size-checked, so there is nothing to stream.
"""

from __future__ import annotations

import codecs
import json
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl

__all__ = ["parse_body"]

_MIME_PARSER = BytesParser(policy=policy.HTTP)


def _no_constant(name: str) -> Any:
    """`NaN`, `Infinity`: Python's json reads them, JSON has no such values (and no job could
    send them on)."""
    raise ValueError(f"the body is not valid JSON: {name} is not a JSON value")


_JSON = json.JSONDecoder(parse_constant=_no_constant)


def parse_body(content_type: str, charset: str | None, body: bytes) -> Any:
    """The body for `trigger.body`; `content_type` is the whole header (with its parameters).

    Raises ValueError with a message for the sender when JSON or multipart is malformed."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime == "multipart/form-data":
        return _multipart(content_type, body)
    text = _decode(body, charset)
    if mime == "application/json" or mime.endswith("+json"):
        text = text.removeprefix("\ufeff")  # a byte order mark: RFC 8259 lets parsers skip it
        try:
            return _JSON.decode(text) if text.strip() else None
        except json.JSONDecodeError as exc:
            where = f"line {exc.lineno} column {exc.colno}"
            raise ValueError(f"the body is not valid JSON: {exc.msg} at {where}") from None
        except RecursionError:
            raise ValueError("the body is nested too deeply to read as JSON") from None
    if mime == "application/x-www-form-urlencoded":  # %E9 in a Latin-1 form is é, not U+FFFD
        return dict(parse_qsl(text, keep_blank_values=True, encoding=_known(charset),
                              errors="replace"))
    return text


def _decode(body: bytes, charset: str | None) -> str:
    return body.decode(_known(charset), errors="replace")


# Text codecs Python has that no sender means and that cost quadratic time on a large body
# (a 1 MB punycode body held the event loop for 30 s).
_REFUSED_CODECS = frozenset({"punycode", "idna"})


def _known(charset: str | None) -> str:
    """The charset if it is a text encoding Python knows, else UTF-8 (read as UTF-8 rather than
    fail): `hex_codec` or `zlib_codec` are codecs but not charsets."""
    if not charset:
        return "utf-8"
    try:
        info = codecs.lookup(charset)
    except LookupError:
        return "utf-8"
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED_CODECS:
        return "utf-8"
    return charset


def _multipart(content_type: str, body: bytes) -> dict[str, Any]:
    if "boundary=" not in content_type.lower():
        raise ValueError("the multipart/form-data body has no boundary in its Content-Type")
    message = _MIME_PARSER.parsebytes(b"Content-Type: " + content_type.encode("latin-1") +
                                      b"\r\n\r\n" + body)
    assert isinstance(message, EmailMessage)
    if not message.is_multipart() or message.defects:
        raise ValueError("the multipart/form-data body does not match its boundary")
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):  # a part that names no field has no place in the mapping
            continue
        raw = part.get_payload(decode=True)
        data = raw if isinstance(raw, bytes) else b""
        text = _decode(data, part.get_content_charset())
        filename = part.get_filename()
        if filename is None:
            fields[name] = text
        else:
            fields[name] = {"filename": filename, "content_type": part.get_content_type(),
                            "size": len(data), "content": text}
    return fields
