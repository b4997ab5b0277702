"""Datapills: the sandboxed Jinja environment, compiled once per document, rendered per job.

A string without `{{`/`{%` is a constant and never touches Jinja. A string that is exactly one
`{{ expr }}` renders to the expression's own value; anything else renders to text. Lookups on a
mapping always mean its keys. A missing value raises `UndefinedError` naming the path as written
and what was there instead. Output size and run time are bounded (see `values.LIMITS`).

The package: `sandbox` (the environment), `compiled` (one template), `lookup` (the fast path of
plain lookups), `trees` (YAML values holding templates), `values` (how values print and convert,
what a missing one says, the limits), `guards` (size checks on Jinja's own filters), `filters`
(the filters and functions beyond Jinja's), `refs` (static analysis: the paths a template reads).
"""

from __future__ import annotations

from runner.templating.refs import Reference
from runner.templating.values import LIMITS, RenderLimits
from runner.templating.compiled import (
    Template,
    TemplateSyntaxError,
    compile_template,
    make_context,
    references,
)
from runner.templating.sandbox import BUILTIN_NAMES
from runner.templating.trees import (
    CompiledTree,
    TreeConstant,
    TreeList,
    TreeMapping,
    compile_tree,
    iter_templates,
    render_tree,
)

__all__ = [
    "BUILTIN_NAMES", "LIMITS", "CompiledTree", "Reference", "RenderLimits", "Template",
    "TemplateSyntaxError", "TreeConstant", "TreeList", "TreeMapping", "compile_template",
    "compile_tree", "iter_templates", "make_context", "references", "render_tree",
]
