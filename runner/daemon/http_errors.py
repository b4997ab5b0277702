"""The one error shape of the daemon's HTTP API: `{"error": {"code": ..., "message": ...}}`."""

from __future__ import annotations

from typing import Any

from aiohttp import web


def error_response(status: int, code: str, message: str, **extra: Any) -> web.Response:
    """A JSON error; `code` is a short kebab-case word a client can branch on."""
    body: dict[str, Any] = {"error": {"code": code, "message": message, **extra}}
    return web.json_response(body, status=status)
