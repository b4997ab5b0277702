"""The process-wide objects a job runs with: compiled documents, one client per connection,
the secrets source and the redactor. Built once; shared by every job of the process.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from yarl import URL

from runner.durations import parse_size
from runner.errors import AuthError, FileNotProvided, RunnerError, StepError
from runner.http.auth import Auth, build_static_auth
from runner.http.client import ClientSettings, ConnectionClient
from runner.http.egress import BARE_URL_HINT, EgressPolicy
from runner.http.ratelimit import RateLimiter
from runner.http.retry import RetryPolicy
from runner.recipe.compile import Connection, Project
from runner.recipe.fields import check_http_url
from runner.redact import Redactor
from runner.secrets import SecretSource
from runner.templating import compile_template, render_tree

DEFAULT_BODY_LIMIT = 64 * 1024
BODY_LIMIT_VARIABLE = "RUNNER_BODY_LIMIT"

# `auth_factory(connection, rendered_auth_fields, runtime) -> Auth`: how OAuth2 plugs in.
AuthFactory = Callable[[Connection, dict[str, Any], "Runtime"], Auth]


@dataclass
class ConnectionRuntime:
    """A connection with its connection-level templates rendered, and its client."""

    compiled: Connection
    base_url: str | None
    headers: dict[str, Any]
    params: dict[str, Any]
    client: ConnectionClient


@dataclass
class Runtime:
    """Everything jobs share; `close()` it when the process (or command) is done."""

    project: Project
    secrets: SecretSource
    redactor: Redactor
    connections: dict[str, ConnectionRuntime] = field(default_factory=dict)
    bare: ConnectionClient | None = None
    body_limit: int = DEFAULT_BODY_LIMIT

    def connection(self, name: str | None) -> tuple[ConnectionRuntime | None, ConnectionClient]:
        """The connection a request names (None: a bare URL through the default client)."""
        if name is None:
            assert self.bare is not None
            return None, self.bare
        conn = self.connections.get(name)
        if conn is None:  # `runner validate` reports this; a hand-built project may not
            raise StepError(f"there is no connection named {name!r}")
        return conn, conn.client

    def context_base(self) -> dict[str, Any]:
        """Names every template of the process may use."""
        return {"secrets": self.secrets.view(self.redactor)}

    async def close(self) -> None:
        for conn in self.connections.values():
            await conn.client.close()
        if self.bare is not None:
            await self.bare.close()


def build_runtime(
    project: Project,
    secrets: SecretSource | None = None,
    redactor: Redactor | None = None,
    auth_factory: AuthFactory | None = None,
    resolver: Any = None,
    load_tls: bool = True,
) -> Runtime:
    """Renders connection templates (they may use secrets) and builds one client per connection.

    `auth_factory(connection, fields, runtime)` builds OAuth2 strategies; `resolver` replaces the
    system DNS (tests use it to simulate DNS answers).
    """
    secrets = secrets or SecretSource()
    redactor = redactor or Redactor()
    runtime = Runtime(project, secrets, redactor, body_limit=body_limit())
    runtime.bare = ConnectionClient(
        ClientSettings(name="(bare URL)", policy=EgressPolicy(hint=BARE_URL_HINT),
                       resolver=resolver, redactor=redactor)
    )
    for name, conn in project.connections.items():
        runtime.connections[name] = _connection_runtime(conn, runtime, auth_factory, resolver,
                                                        load_tls)
    return runtime


def body_limit() -> int:
    """RUNNER_BODY_LIMIT (`512KiB`, `1MiB` or bytes): where stored bodies are cut."""
    text = os.environ.get(BODY_LIMIT_VARIABLE)
    if not text:
        return DEFAULT_BODY_LIMIT
    try:
        return parse_size(text)
    except ValueError as exc:
        raise RunnerError(f"{BODY_LIMIT_VARIABLE}: {exc}") from None


def _connection_runtime(
    conn: Connection, runtime: Runtime, auth_factory: AuthFactory | None, resolver: Any,
    load_tls: bool = True,
) -> ConnectionRuntime:
    where = f"connection {conn.name}"
    rendered = _render_connection(conn, runtime.context_base(), where)
    spec = conn.spec
    settings = ClientSettings(
        name=conn.name,
        policy=EgressPolicy(
            private_network=spec.private_network,
            allow_hosts=None if spec.allow_hosts is None else frozenset(spec.allow_hosts),
        ),
        ssl_context=_ssl_context(conn) if load_tls else True,  # a dry run sends nothing
        proxy=_proxy(rendered["proxy"], runtime.redactor, where),
        timeout=spec.timeout,
        retry=conn.retry or RetryPolicy(),
        rate_limiter=(
            None if spec.rate_limit is None
            else RateLimiter(spec.rate_limit.requests, spec.rate_limit.per)
        ),
        auth=_auth(conn, rendered["auth"], runtime, auth_factory),
        resolver=resolver,
        redactor=runtime.redactor,
    )
    base_url = rendered["base_url"]
    if base_url is not None:
        try:
            check_http_url(str(base_url))
        except ValueError:  # not quoted: it was rendered, maybe from a secret
            raise RunnerError(f"{where}: base_url renders to something that is not an "
                                "absolute http or https URL") from None
    return ConnectionRuntime(
        conn, None if base_url is None else str(base_url), rendered["headers"],
        rendered["params"], ConnectionClient(settings),
    )


def _render_connection(conn: Connection, context: dict[str, Any], where: str) -> dict[str, Any]:
    """The connection's templates, rendered once (secrets are read here, at start-up)."""
    try:
        return {
            "base_url": render_tree(conn.base_url, context) if conn.base_url else None,
            "headers": render_tree(conn.headers, context),
            "params": render_tree(conn.params, context),
            "auth": render_tree(conn.auth, context),
            "proxy": None if conn.spec.proxy is None
            else compile_template(conn.spec.proxy).render(context),
        }
    except RunnerError as exc:
        raise type(exc)(f"{where}: {exc}") from exc


def _proxy(value: Any, redactor: Redactor, where: str) -> str | None:
    """The proxy URL; its credentials (userinfo) become Proxy-Authorization in aiohttp, and are
    recorded as secrets so they are redacted like any other."""
    if value is None or value == "":
        return None
    try:
        url = URL(str(value))
    except ValueError:
        raise RunnerError(f"{where}: proxy is not a valid URL") from None
    if url.scheme not in ("http", "https") or not url.host:
        raise RunnerError(f"{where}: proxy must be an http:// or https:// URL with a host")
    if url.user is not None:
        redactor.add_basic_auth(url.user, url.password or "")
    return str(url)


def _auth(
    conn: Connection, fields: dict[str, Any], runtime: Runtime, auth_factory: AuthFactory | None
) -> Auth:
    if str(fields["type"]).startswith("oauth2"):
        if auth_factory is None:
            raise AuthError(
                f"connection {conn.name}: OAuth2 ({fields['type']}) needs the token service, "
                "which this command does not start"
            )
        return auth_factory(conn, fields, runtime)
    return build_static_auth(fields, runtime.redactor)


def _ssl_context(conn: Connection) -> ssl.SSLContext | bool:
    """One context per connection, built at start-up so a bad file fails early and clearly."""
    tls = conn.spec.tls
    if not tls.verify and not tls.client_cert:
        return False
    ca_bundle = conn.file_path(tls.ca_bundle)
    try:
        context = ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        raise _tls_error(conn, f"tls.ca_bundle {ca_bundle}", exc) from exc
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    cert, key = conn.file_path(tls.client_cert), conn.file_path(tls.client_key)
    if cert is not None:
        # One call loads both: a file that is missing is named alone, else both are.
        missing = [(field, path) for field, path in (("client_cert", cert), ("client_key", key))
                   if path is not None and not os.path.isfile(path)]
        files = (f"tls.{missing[0][0]} {missing[0][1]}" if missing
                 else f"tls.client_cert {cert}" + (f" / tls.client_key {key}" if key else ""))
        try:
            context.load_cert_chain(cert, key)
        except (OSError, ssl.SSLError) as exc:
            raise _tls_error(conn, files, exc) from exc
    return context


def _tls_error(conn: Connection, files: str, exc: BaseException) -> RunnerError:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return FileNotProvided(f"connection {conn.name}: cannot load TLS files: {files}: {reason}")
