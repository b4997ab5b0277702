"""`runner schema`: prints (or writes) the JSON Schema generated from the models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from runner.recipe.schema import schema_files


def run(args: argparse.Namespace) -> int:
    files = schema_files()
    if args.write:
        folder = Path(args.write)
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        return 0
    sys.stdout.write(files["runner.schema.json"])
    return 0
