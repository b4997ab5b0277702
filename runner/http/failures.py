"""What went wrong when no response arrived: a readable reason, and whether a retry may help.

Kept apart from the client so the wording of every network failure lives in one small place.
"""

from __future__ import annotations

import os
import socket

import aiohttp

from runner.http.retry import Failure

MAX_RESPONSE_BYTES = 50 * 1024 * 1024  # a response larger than this is a failure, not data

__all__ = ["MAX_RESPONSE_BYTES", "classify", "describe", "is_final", "read_limited"]


async def read_limited(response: aiohttp.ClientResponse) -> bytes:
    """The whole body, refusing to hold more than MAX_RESPONSE_BYTES in memory."""
    size = response.content_length
    if size is not None and size <= MAX_RESPONSE_BYTES:
        return await response.read()  # announced and allowed: one read, no chunk loop
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.content.iter_chunked(65536):
        total += len(chunk)
        if total > MAX_RESPONSE_BYTES:
            raise aiohttp.ClientPayloadError(
                f"response larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def classify(exc: aiohttp.ClientError) -> Failure:
    """"connection" when nothing can have reached the server, else "timeout" (maybe it did).

    The retry rules rely on this: a "connection" failure is safe to retry for every method.
    """
    if isinstance(exc, aiohttp.ClientConnectorError):
        return "connection"
    return "timeout"


def is_final(exc: aiohttp.ClientError) -> bool:
    """Failures that trying again cannot fix: a certificate the connection does not trust,
    a URL that cannot be requested, a response too large to hold."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.InvalidURL):
        return True
    return isinstance(exc, aiohttp.ClientPayloadError) and "larger than" in str(exc)


def describe(exc: aiohttp.ClientError) -> str:
    """One line a user can act on; never the request's URL (the caller names it, redacted)."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return f"connection failed: TLS certificate not accepted ({exc.certificate_error})"
    if isinstance(exc, aiohttp.ClientSSLError):
        return f"connection failed: TLS error ({_ssl_reason(exc)})"
    if isinstance(exc, aiohttp.ClientProxyConnectionError):
        return f"connection to the proxy failed: {_os_reason(exc.os_error)}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"connection failed: {_os_reason(exc.os_error)} ({exc.host}:{exc.port})"
    # Below: the request may have reached the server (`classify` says "timeout"), so not
    # "connection failed", which is the `connection` condition's wording.
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "no response: the server closed the connection without answering"
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        return f"the proxy refused the request: {exc.status} {exc.message}"
    if isinstance(exc, aiohttp.ClientResponseError):  # a status line or header that is not HTTP
        return f"no response: the answer is not valid HTTP ({' '.join(str(exc.message).split())[:120]})"
    if isinstance(exc, aiohttp.ClientOSError):
        return f"no response: {_os_reason(exc)}"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return f"response failed: {exc}"
    if isinstance(exc, aiohttp.InvalidURL):
        return "request not sent: the URL is not valid"
    return f"connection failed: {type(exc).__name__}: {exc}"


def _ssl_reason(exc: aiohttp.ClientSSLError) -> str:
    error = exc.os_error
    reason = getattr(error, "reason", None)
    return str(reason or getattr(error, "strerror", None) or error)


def _os_reason(exc: OSError) -> str:
    """`Connection refused` rather than asyncio's `Connect call failed ('127.0.0.1', 80)`."""
    reason = getattr(exc, "reason", None)  # ssl.SSLError subclasses carry a short reason
    if reason:
        return f"TLS error ({reason})"
    if isinstance(exc, socket.gaierror):  # its negative errno means nothing to os.strerror
        return f"the host name could not be resolved ({exc.strerror or exc})"
    if exc.errno:
        return os.strerror(exc.errno)
    return str(exc.strerror or exc)
