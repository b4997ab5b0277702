"""`runner schema`: prints (or writes) the JSON Schema generated from the models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runner.recipe.schema import SCHEMA_FILE, schema_text


def run(args: argparse.Namespace) -> int:
    text = schema_text()
    if args.write:
        folder = Path(args.write)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / SCHEMA_FILE).write_text(text, encoding="utf-8")
        except OSError as exc:
            sys.stderr.write(f"runner: error: cannot write {folder / SCHEMA_FILE}: {exc}\n")
            return 2
        return 0
    sys.stdout.write(text)
    return 0
