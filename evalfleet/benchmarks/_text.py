"""Small pure helpers shared by the OpenCompass-parity benchmark modules (file reading, answer matching)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evalfleet.errors import EvalfleetError
from evalfleet.jsonl import read_jsonl  # noqa: F401  (the benchmark modules import it from here)


def data_path(data_dir: Path, relative: str) -> Path:
    """data_dir / relative, or an EvalfleetError naming the missing file."""
    path = Path(data_dir) / relative
    if not path.is_file():
        raise EvalfleetError(
            "data file not found (is --data-dir the folder holding the official files?)", source=str(path)
        )
    return path


def read_json(path: Path) -> Any:
    """One JSON document; a malformed file raises an error naming it."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise EvalfleetError(f"malformed JSON ({exc.msg}, line {exc.lineno})", source=str(path)) from exc


def field(row: dict, key: str, path: Path, n: int) -> Any:
    """row[key], or an EvalfleetError naming the file, the record number and the field."""
    try:
        return row[key]
    except (KeyError, TypeError, IndexError):
        raise EvalfleetError(f"record {n}: missing", source=str(path), field=key) from None


def index_ids(count: int) -> list[str]:
    """Zero-padded, sortable ids '0000', '0001', ... for `count` items."""
    width = max(4, len(str(max(count - 1, 0))))
    return [str(i).zfill(width) for i in range(count)]
