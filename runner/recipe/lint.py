"""Semantic checks beyond the models: names, references between documents, cron, templates."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from runner.errors import Diagnostic, SecretError, TemplateError
from runner.recipe.loader import Loaded, LoadResult
from runner.recipe.models import ConnectionSpec, RecipeSpec
from runner.recipe.rawcheck import duplicate_steps, syntax_problem
from runner.recipe.walk import Site, connection_sites, is_template, recipe_sites
from runner.recipe.yamlsource import SourceDocument
from runner.secrets import NAME_RULE, SECRET_KEY_NAME, is_valid_name
from runner.templating import BUILTIN_NAMES, Reference, compile_template, references


def lint(result: LoadResult, secret_provided: Callable[[str], bool] | None = None) -> list[Diagnostic]:
    """Every semantic problem of the loaded documents; `secret_provided` enables the strict check
    (`--strict`, and `runner serve` at start-up): a secret read where the template does not cope
    with its absence (no `| default`, `is defined` or `'NAME' in secrets` guard) must be provided."""
    problems: list[Diagnostic] = []
    problems += _duplicate_names(result.sources)
    connections = {d.spec.name: d for d in result.connections}
    paths: dict[str, Loaded] = {}
    # A repaired document (refused for unknown keys only) was already checked by the raw checks
    # for template syntax and repeated step ids: the rest is checked here, as for a valid one.
    repaired = {id(loaded) for loaded in result.repaired}
    for loaded in [*result.documents, *result.repaired]:
        again = id(loaded) in repaired
        if isinstance(loaded.spec, RecipeSpec):
            problems += _recipe(loaded, loaded.spec, connections, paths, again)
            sites: Iterable[Site] = recipe_sites(loaded.spec, loaded.source.data)
        else:
            problems += _outside_allow_hosts(loaded.source, loaded.spec)
            problems += _secret_key(loaded.source, loaded.spec, secret_provided)
            sites = connection_sites(loaded.spec, loaded.source.data)
        for site in sites:
            problems += _template(loaded, site, secret_provided, again)
    return problems


def _suggest(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _duplicate_names(sources: list[SourceDocument]) -> list[Diagnostic]:
    """Names used twice per kind, among every document read: one with schema errors still holds
    its name, so a second document of that name is reported at once, not after the fix."""
    seen: dict[tuple[str, str], SourceDocument] = {}
    problems = []
    for doc in sources:
        data = doc.data if isinstance(doc.data, dict) else {}
        kind, name = data.get("kind"), data.get("name")
        if kind not in ("connection", "recipe") or not isinstance(name, str):
            continue
        if (kind, name) in seen:
            first = seen[(kind, name)].locate(("name",))
            problems.append(Diagnostic(
                "duplicate-name",
                f"duplicate {kind} name '{name}' (first defined at {first})",
                doc.locate(("name",)),
            ))
        else:
            seen[(kind, name)] = doc
    return problems


def _recipe(
    loaded: Loaded, spec: RecipeSpec, connections: dict[str, Loaded], paths: dict[str, Loaded],
    repaired: bool = False,
) -> list[Diagnostic]:
    src = loaded.source
    problems = [] if repaired else duplicate_steps(src)
    for index, step in enumerate(spec.steps):
        problems += _connection_ref(
            src, ("steps", index, "request"), step.request.connection, step.request.url, connections
        )
    if spec.trigger.poll is not None:
        poll = spec.trigger.poll
        problems += _connection_ref(
            src, ("trigger", "poll"), poll.connection, poll.request.url, connections
        )
        if poll.schedule is not None:
            problems += _cron(src, poll.schedule)
    hook = spec.trigger.webhook
    if hook is not None and spec.enabled:
        path = spec.webhook_path or spec.name
        if path in paths:
            other = paths[path]
            problems.append(Diagnostic(
                "duplicate-webhook-path",
                f"webhook path '{path}' is already served by recipe '{other.spec.name}' "
                f"({other.source.locate(('name',))})",
                src.locate(("trigger", "webhook", "path")),
            ))
        paths.setdefault(path, loaded)
    return problems


def _connection_ref(
    src: Any, path: tuple[str | int, ...], name: str | None, url: str,
    connections: dict[str, Loaded],
) -> list[Diagnostic]:
    if name is None:
        if not _absolute(url):
            return [Diagnostic(
                "relative-url",
                f"url '{url}' is relative but no connection is named; add connection: NAME "
                "(whose base_url it joins) or write a full http(s):// URL",
                src.locate(path + ("url",)),
            )]
        return []
    target = connections.get(name)
    if target is None:
        return [Diagnostic(
            "unknown-connection",
            f"unknown connection '{name}'{_suggest(name, connections)}"
            + (f"; known connections: {', '.join(sorted(connections))}" if connections else
               "; no connection documents were loaded"),
            src.locate(path + ("connection",)),
        )]
    spec = target.spec
    assert isinstance(spec, ConnectionSpec)
    if spec.base_url is None and not _absolute(url):
        return [Diagnostic(
            "relative-url",
            f"url '{url}' is relative but connection '{name}' has no base_url",
            src.locate(path + ("url",)),
        )]
    return []


def _absolute(url: str) -> bool:
    text = url.strip()
    return text.startswith(("http://", "https://")) or text.startswith("{{")


def _secret_key(
    src: SourceDocument, spec: ConnectionSpec, secret_provided: Callable[[str], bool] | None
) -> list[Diagnostic]:
    """With the strict check: authorization-code tokens are stored encrypted with
    RUNNER_SECRET_KEY, which `runner serve` then needs as much as any secret the documents name."""
    if secret_provided is None or spec.auth.type != "oauth2_authorization_code":
        return []
    try:
        if secret_provided(SECRET_KEY_NAME):
            return []
    except SecretError as exc:
        return [Diagnostic("missing-secret", str(exc), src.locate(("auth", "type")))]
    return [Diagnostic(
        "missing-secret",
        f"secret '{SECRET_KEY_NAME}' is not provided: it encrypts the tokens this connection "
        f"stores; set the environment variable {SECRET_KEY_NAME} or create the file "
        f"{SECRET_KEY_NAME} in RUNNER_SECRETS_DIR",
        src.locate(("auth", "type")),
    )]


def _outside_allow_hosts(src: SourceDocument, spec: ConnectionSpec) -> list[Diagnostic]:
    """`base_url` or `token_url` on a host `allow_hosts` leaves out: every request (or token)
    of the connection would be refused. Templates are left to run time."""
    if spec.allow_hosts is None:
        return []
    allowed = {_host_key(host) for host in spec.allow_hosts}
    written = {("base_url",): spec.base_url,
               ("auth", "token_url"): getattr(spec.auth, "token_url", None)}
    problems = []
    for path, url in written.items():
        if not isinstance(url, str) or is_template(url):
            continue
        host = urlsplit(url).hostname or ""
        if host and _host_key(host) not in allowed:
            problems.append(Diagnostic(
                "host-not-allowed",
                f"{path[-1]} host {host} is not in allow_hosts "
                f"({', '.join(sorted(allowed))}): every request to it would be refused",
                src.locate(path),
            ))
    return problems


def _host_key(host: str) -> str:
    """A host as the egress policy compares them (lower-case, IDNA, no brackets or trailing dot),
    done here without it: importing the HTTP client would slow `runner validate` down."""
    bare = host.strip().strip("[]").rstrip(".").lower()
    try:
        return bare.encode("idna").decode("ascii")
    except UnicodeError:
        return bare


def _cron(src: Any, expression: str) -> list[Diagnostic]:
    from runner.triggers.schedule import cron_problem  # croniter: loaded only when needed

    problem = cron_problem(expression)
    if problem is None:
        return []
    return [Diagnostic("cron-invalid", problem, src.locate(("trigger", "poll", "schedule")))]


def _template(
    loaded: Loaded, site: Site, secret_provided: Callable[[str], bool] | None,
    repaired: bool = False,
) -> list[Diagnostic]:
    if not is_template(site.source):
        return []
    src = loaded.source
    try:
        compile_template(site.source)
        refs = references(site.source)
    except TemplateError as exc:
        return [] if repaired else [syntax_problem(src, site.path, exc)]
    problems = []
    for ref in refs:
        if _unguarded_cursor(site, ref):
            problems.append(Diagnostic(
                "cursor-undefined",
                "cursor is undefined until a poll has kept one, so the first poll would fail: "
                "write `cursor | default(...)` (or test `cursor is defined`)",
                src.template_line(site.path, ref.line), severity="warning",
            ))
        elif message := _reference_problem(loaded.spec, site, ref, secret_provided):
            problems.append(Diagnostic(*message, src.template_line(site.path, ref.line)))
    return problems


def _unguarded_cursor(site: Site, ref: Reference) -> bool:
    """`{{ cursor }}` in the poll request with no default: there is none before the first poll."""
    return (ref.root == "cursor" and not ref.guarded
            and site.path[:3] == ("trigger", "poll", "request"))


def _reference_problem(
    spec: ConnectionSpec | RecipeSpec, site: Site, ref: Reference,
    secret_provided: Callable[[str], bool] | None,
) -> tuple[str, str] | None:
    root, path = ref.root, ref.path
    if root in BUILTIN_NAMES and root not in ("item", "loop"):
        return None
    if root not in site.names:
        if root in ("item", "loop") and site.path[-1:] == ("for_each",):
            return "unknown-name", (f"'{root}' is not defined in for_each itself: it stands "
                                    "for each element of the list for_each gives")
        if root in ("item", "loop"):
            return "unknown-name", f"'{root}' is only defined in a step with for_each"
        hint = _suggest(root, site.names)
        return "unknown-name", (
            f"unknown name '{root}' in template{hint}; available here: {', '.join(sorted(site.names))}"
        )
    if root == "secrets" and path:
        return _secret_problem(path[0], ref.guarded, secret_provided)
    first = path[0] if path and isinstance(path[0], str) else None
    if first is None:
        return None
    if root == "vars" and isinstance(spec, RecipeSpec) and first not in spec.vars:
        declared = ", ".join(spec.vars) or "none"
        hint = _suggest(first, spec.vars)
        return "unknown-var", f"vars.{first} is not declared in vars{hint}; declared: {declared}"
    if root == "steps" and isinstance(spec, RecipeSpec):
        return _step_reference(spec, site, first)
    return None


def _secret_problem(
    name: str | int, guarded: bool, secret_provided: Callable[[str], bool] | None
) -> tuple[str, str] | None:
    """A name no secret can have, always; with the strict check, an unguarded one not provided."""
    if not is_valid_name(name):
        shown = repr(name) if len(repr(name)) <= 60 else repr(name)[:57] + "..."
        return "invalid-secret-name", f"invalid secret name {shown}: {NAME_RULE}"
    if secret_provided is None or guarded:
        return None
    try:
        if secret_provided(name):
            return None
    except SecretError as exc:  # the file is there but cannot be read
        return "missing-secret", str(exc)
    return "missing-secret", (
        f"secret '{name}' is not provided: set the environment variable {name} or create "
        f"the file {name} in RUNNER_SECRETS_DIR"
    )


def _step_reference(spec: RecipeSpec, site: Site, step_id: str) -> tuple[str, str] | None:
    ids = [s.id for s in spec.steps]
    earlier = ids if site.step_index is None else ids[: site.step_index]
    if step_id in earlier:
        return None
    if step_id in ids:
        where = "itself" if ids.index(step_id) == site.step_index else "a later step"
        return "unknown-step", (
            f"steps.{step_id} refers to {where}; a step can only use earlier steps"
            + (f" ({', '.join(earlier)})" if earlier else "")
        )
    listing = ", ".join(earlier) if earlier else "none"
    hint = _suggest(step_id, earlier)
    return "unknown-step", f"steps.{step_id} is not a step of this recipe{hint}; earlier steps: {listing}"
