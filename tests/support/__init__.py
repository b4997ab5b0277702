"""Reusable test helpers: TLS certificates and real servers on 127.0.0.1 (httpbin, aiohttp apps)."""
