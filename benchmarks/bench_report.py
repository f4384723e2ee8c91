"""How a benchmark hands back its figures: indented JSON on stdout, and the same text in the
file ``--json`` names (imported by the benchmark scripts, which run with this folder on
``sys.path``)."""

from __future__ import annotations

import json
from pathlib import Path


def print_report(result: dict, json_path: str | None = None) -> None:
    """Print ``result`` as indented JSON and, when ``json_path`` is given, write it there too."""
    text = json.dumps(result, indent=2)
    if json_path:
        Path(json_path).write_text(text + "\n", encoding="utf-8")
    print(text)
