"""`runner import curl 'curl ...'`: a step in YAML from a cURL command; nothing is ever sent."""

from __future__ import annotations

import sys
from argparse import Namespace
from typing import Any

from runner.recipe.models import RecipeSpec
from runner.commands.common import CommandError, fail, load_project
from runner.importing.datapills import propose
from runner.importing.curl import CurlError, parse_curl
from runner.importing.step_yaml import build_step, step_yaml
from runner.samples.files import SampleError, read_sample, sample_path


def run(args: Namespace) -> int:
    try:
        try:
            req = parse_curl(args.command)
        except CurlError as exc:
            raise CommandError(f"runner: error: cannot read the cURL command: {exc}", 2) from exc
        name, base, has_auth, loaded = _connection(req.url, args)
        try:
            step, notes = build_step(req, args.id, name, base, has_auth)
            if args.recipe is not None:
                notes += propose(step["request"], _trigger_sample(loaded, args.recipe))
        except ValueError as exc:
            raise CommandError(f"runner: error: {exc}", 2) from exc
    except CommandError as exc:
        return fail(exc)
    sys.stdout.write(step_yaml(step, notes))
    return 0


def _trigger_sample(loaded: Any, recipe: str) -> Any:
    for document in [] if loaded is None else loaded.documents:
        if isinstance(document.spec, RecipeSpec) and document.spec.name == recipe:
            try:
                sample = read_sample(sample_path(document.source.file, recipe))
            except SampleError as exc:
                raise CommandError(str(exc), 1) from exc
            if sample is None or not sample.has_trigger:
                raise CommandError(f"runner: error: recipe '{recipe}' has no sample "
                                   f"(samples/{recipe}.json beside {document.source.file})", 2)
            return sample.trigger
    raise CommandError(f"runner: error: no recipe named '{recipe}' in PATH", 2)


def _connection(url: str, args: Namespace) -> tuple[str | None, str | None, bool, Any]:
    """The connection whose base_url starts the URL (the longest when several do)."""
    if not args.paths and args.connection is None and args.recipe is None:
        try:
            project, loaded = load_project(None)
        except CommandError:
            return None, None, False, None
    else:
        project, loaded = load_project(args.paths)
    matches = []
    for name, conn in project.connections.items():
        base = conn.spec.base_url
        if base and "{{" not in base and url.startswith(base.rstrip("/")):
            matches.append((len(base), name, base, bool(conn.spec.auth.model_dump(
                exclude_none=True, exclude_defaults=True))))
    if args.connection is not None:
        chosen = [m for m in matches if m[1] == args.connection]
        if not chosen:
            raise CommandError(f"runner: error: connection '{args.connection}' is not loaded or "
                               "its base_url does not start the URL", 2)
        matches = chosen
    if not matches:
        return None, None, False, loaded
    _, name, base, has_auth = max(matches)
    return name, base, has_auth, loaded
