"""The documents the daemon currently runs: compiled, with clients and webhook routes, swappable.

`runner serve` builds one `Active` at start-up and a new one on every reload; requests and jobs
take the one current when they start, so a reload switches over atomically.
"""

from __future__ import annotations

from dataclasses import dataclass

from runner.engine.runtime import AuthFactory, Runtime, build_runtime
from runner.errors import Diagnostic, DocumentError, RunnerError
from runner.recipe.compile import Project, Recipe, compile_project
from runner.recipe.lint import lint
from runner.recipe.loader import load_paths
from runner.recipe.secret_refs import hide_named_secrets
from runner.redact import Redactor
from runner.secrets import SecretSource
from runner.templating import render_tree
from runner.triggers.verify import WebhookAuth


@dataclass(frozen=True)
class WebhookRoute:
    """One enabled webhook recipe as the HTTP handler needs it."""

    recipe: Recipe
    auth: WebhookAuth | None
    methods: frozenset[str]
    max_body: int


@dataclass
class Active:
    project: Project
    runtime: Runtime
    webhooks: dict[str, WebhookRoute]
    files: list[str]

    @property
    def polls(self) -> list[Recipe]:
        return [r for r in self.project.recipes.values() if r.poll is not None and r.spec.enabled]


def load_active(
    paths: list[str], secrets: SecretSource, redactor: Redactor,
    auth_factory: AuthFactory | None = None,
) -> Active:
    """Loads, validates (secrets included) and compiles; raises DocumentError when invalid."""
    result = load_paths(paths or None)
    diagnostics = result.diagnostics + lint(result, secrets.is_provided)
    errors = sorted((d for d in diagnostics if d.severity == "error"), key=Diagnostic.sort_key)
    if errors:
        raise DocumentError(errors)
    project = compile_project(result, diagnostics)
    hide_named_secrets(result, secrets, redactor)  # before the first event is stored
    runtime = build_runtime(project, secrets, redactor, auth_factory=auth_factory)
    webhooks = {}
    for recipe in project.recipes.values():
        if recipe.webhook is not None and recipe.spec.enabled:
            webhooks[recipe.webhook.path] = _route(recipe, runtime)
    return Active(project, runtime, webhooks, result.files)


def _route(recipe: Recipe, runtime: Runtime) -> WebhookRoute:
    hook = recipe.webhook
    assert hook is not None
    auth = None
    if hook.auth is not None:
        context = runtime.context_base()
        context["recipe"] = {"name": recipe.name, "description": recipe.spec.description}
        try:
            context["vars"] = render_tree(recipe.vars, context)
            fields = render_tree(hook.auth, context)
        except RunnerError as exc:
            raise RunnerError(f"recipe {recipe.name}: webhook auth: {exc}") from exc
        fields = {k: ("" if v is None else v) for k, v in fields.items()}
        for value in (fields.get("secret"), fields.get("password"), fields.get("value")):
            if isinstance(value, str):
                runtime.redactor.add(value)
        try:
            auth = WebhookAuth(tolerance=hook.spec.tolerance, **fields)
        except ValueError as exc:
            raise RunnerError(f"recipe {recipe.name}: webhook auth: {exc}") from exc
    return WebhookRoute(recipe, auth, frozenset(hook.spec.methods), hook.spec.max_body)
