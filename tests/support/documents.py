"""YAML documents tests build again and again: a connection `api` and a webhook recipe `r`."""

from __future__ import annotations


def api_documents(base_url: str, steps: str, connection: str = "") -> str:
    """A connection `api` to `base_url` (loopback allowed) with extra `connection` lines, and a
    webhook recipe `r` with `steps` (YAML list items, indented by two)."""
    return f"""
kind: connection
name: api
base_url: {base_url}
private_network: true
{connection}
---
kind: recipe
name: r
trigger: {{webhook: {{}}}}
steps:
{steps}
"""
