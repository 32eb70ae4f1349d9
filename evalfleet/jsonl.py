"""JSON Lines reading: one JSON value per non-blank line, every error naming the file and the line.

iter_jsonl(path) -> (line number, parsed value) for each non-blank line
read_jsonl(path) -> the objects of the file (a line that is not an object is an error)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from evalfleet.errors import EvalfleetError


def iter_jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(1-based line number, parsed value) per non-blank line; malformed JSON raises an error naming file and line."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalfleetError(f"line {n}: malformed JSON ({exc.msg})", source=str(path)) from exc


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The objects of a JSON Lines file; a malformed line raises an error naming file and line."""
    rows = []
    for n, row in iter_jsonl(path):
        if not isinstance(row, dict):
            raise EvalfleetError(f"line {n}: expected a JSON object", source=str(path))
        rows.append(row)
    return rows
