"""Writes a CurlRequest as a runner step in YAML, credentials swapped for secret placeholders."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl

import yaml

from runner.importing.curl import CurlRequest, json_value
from runner.redact import SENSITIVE_PARAMS, is_credential_header

_KEY_PARAMS = {"api_key", "apikey", "token", "access_token", "key", "api_token", "auth", "secret"}


def _is_credential(name: str) -> bool:
    """redact's credential headers plus the usual custom ones (X-API-Key, X-Auth-Token...)."""
    lowered = name.lower()
    return is_credential_header(name) or any(
        word in lowered for word in ("api-key", "apikey", "token", "secret", "x-auth"))


def _secret_name(name: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", name.upper()).strip("_") or "SECRET"


def build_step(req: CurlRequest, step_id: str, connection: str | None, base_url: str | None,
               connection_has_auth: bool) -> tuple[dict[str, Any], list[str]]:
    """The step mapping and the comments that go above it (which secrets to create)."""
    notes: list[str] = []
    request: dict[str, Any] = {}
    url = req.url
    if connection is not None and base_url is not None:
        request["connection"] = connection
        url = url[len(base_url.rstrip("/")):] or "/"
    request["method"] = req.method
    request["url"] = url
    params: dict[str, Any] = {}
    for name, value in req.params:
        if name.lower() in _KEY_PARAMS or name.lower() in SENSITIVE_PARAMS:
            secret = _secret_name(name)
            notes.append(f"create the secret '{secret}' holding the value of the query "
                         f"parameter {name}")
            value = f"{{{{ secrets.{secret} }}}}"
        params[name] = value
    if params:
        request["params"] = params
    headers: dict[str, Any] = {}
    content_type = ""
    for name, value in req.headers:
        if name.lower() == "content-type":
            content_type = value.lower()
        if _is_credential(name):
            if connection is not None and connection_has_auth:
                notes.append(f"header {name} dropped: connection {connection} supplies the auth")
                continue
            secret = _secret_name(name)
            hint = " (its value is 'Basic ' + base64 of user:password)" if value.startswith(
                "Basic ") else ""
            notes.append(f"create the secret '{secret}' holding the {name} header's value{hint}")
            value = f"{{{{ secrets.{secret} }}}}"
        headers[name] = value
    _body(req, request, headers, content_type)
    if headers:
        request["headers"] = headers
    return {"id": step_id, "request": request}, notes


def _body(req: CurlRequest, request: dict[str, Any], headers: dict[str, Any],
          content_type: str) -> None:
    if req.json_body is not None:
        request["json"] = json_value(req.json_body)
        return
    if req.form:
        raise ValueError("-F/--form (multipart) is not supported: runner sends json, form "
                         "(urlencoded) or a raw body")
    if not req.data:
        return
    text = "&".join(req.data)
    parsed = json_value(text)
    if "json" in content_type or (not content_type and isinstance(parsed, (dict, list))):
        if parsed is not None:
            headers.pop("Content-Type", None)
            headers.pop("content-type", None)
            request["json"] = parsed
            return
    if "=" in text and ("urlencoded" in content_type or not content_type):
        headers.pop("Content-Type", None)
        headers.pop("content-type", None)
        request["form"] = dict(parse_qsl(text, keep_blank_values=True))
        return
    request["body"] = text
    if content_type:
        request["content_type"] = content_type


def step_yaml(step: dict[str, Any], notes: list[str]) -> str:
    """The step as a YAML list item, the notes as comments above it."""
    text = yaml.safe_dump([step], sort_keys=False, allow_unicode=True, default_flow_style=False)
    return "".join(f"# {note}\n" for note in notes) + text
