"""ELMB data: the published validation sets from the Hugging Face hub when online, local files otherwise.

Every record has the official fields `question` (str), `choices` (list of str), `answer` (index into
`choices`) and `correct_answer_content` (the text of the right choice); ChatRAG adds `ctx`.

    read_rows(path)            -> rows of a local .jsonl / .json (JSON Lines) / .parquet file
    load_hub(repo, split)      -> rows of data4elm/ELMB-<use case> through `datasets` (imported lazily)
    load_rows(data_dir, rel, repo, split) -> the local file if it exists, else the hub, else a clear error
    check_row(row, n, source, need_ctx)   -> the row validated (types, answer in range, content agrees)

A local copy of a hub set is made once, online, with `save_jsonl(load_hub(...), path)`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable

from evalfleet.errors import EvalfleetError
from evalfleet.jsonl import read_jsonl

FIELDS = ("question", "choices", "answer", "correct_answer_content")
HUB_SETS = {
    "roleplay": "data4elm/ELMB-RolePlay",
    "reasoning": "data4elm/ELMB-Reasoning",
    "function_calling": "data4elm/ELMB-FunctionCalling",
    "chatrag": "data4elm/ELMB-ChatRAG",
}


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Records of a local JSON Lines (.jsonl/.json) or Parquet (.parquet) file."""
    path = Path(path)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return [_plain(r) for r in pq.read_table(path).to_pylist()]
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise EvalfleetError(f"not a readable Parquet file ({exc})", source=str(path)) from exc
    return read_jsonl(path)


def load_hub(repo: str, split: str = "validation") -> list[dict[str, Any]]:
    """Rows of a hub dataset via `datasets`; `split` falls back to the only split when the set has one."""
    try:
        import datasets
    except ImportError as exc:
        raise EvalfleetError(
            f"reading {repo} from the hub needs the 'datasets' package (pip install datasets)", source=repo
        ) from exc
    try:
        loaded = datasets.load_dataset(repo)
    except Exception as exc:  # offline, unknown repo, gated: all end the same way for the user
        raise EvalfleetError(f"could not load from the hub ({type(exc).__name__}: {exc})", source=repo) from exc
    names = list(loaded.keys())
    if split not in loaded:
        if len(names) != 1:
            raise EvalfleetError(f"no split {split!r} (splits: {names})", source=repo, field="options.split")
        split = names[0]
    return [_plain(r) for r in loaded[split]]


def load_rows(data_dir: Path, relative: str, repo: str | None, split: str = "validation") -> tuple[list[dict], str]:
    """(rows, source): data_dir/relative (or the same stem as .parquet) if present, else the hub repo."""
    path = Path(data_dir) / relative
    for candidate in (path, path.with_suffix(".parquet"), path.with_suffix(".jsonl")):
        if candidate.is_file():
            return read_rows(candidate), str(candidate)
    if not repo:
        raise EvalfleetError("data file not found (is --data-dir the folder holding the ELMB files?)", source=str(path))
    try:
        return load_hub(repo, split), repo
    except EvalfleetError as exc:
        raise EvalfleetError(
            f"data file not found, and the hub set {repo} could not be read either ({exc}); "
            f"download it once online and save it as JSON Lines or Parquet at this path",
            source=str(path),
        ) from exc


def check_row(row: dict[str, Any], n: int, source: str, need_ctx: bool = False) -> dict[str, Any]:
    """The row, validated: a string question, a non-empty list of string choices, an in-range integer answer."""
    for key in FIELDS + (("ctx",) if need_ctx else ()):
        if key not in row:
            raise EvalfleetError(f"record {n}: missing", source=source, field=key)
    choices = row["choices"]
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
        raise EvalfleetError(f"record {n}: must be a non-empty list of strings", source=source, field="choices")
    answer = row["answer"]
    if isinstance(answer, str) and answer.strip().isdigit():
        answer = int(answer)
    if isinstance(answer, float) and answer.is_integer() and not math.isnan(answer):
        answer = int(answer)
    if not isinstance(answer, int) or isinstance(answer, bool) or not 0 <= answer < len(choices):
        raise EvalfleetError(
            f"record {n}: must be an index into choices (0..{len(choices) - 1}), got {row['answer']!r}",
            source=source,
            field="answer",
        )
    if not isinstance(row["question"], str) or (need_ctx and not isinstance(row["ctx"], str)):
        raise EvalfleetError(
            f"record {n}: must be a string", source=source, field="question" if not need_ctx else "ctx"
        )
    return {**row, "answer": answer}


def save_jsonl(rows: Iterable[dict[str, Any]], path: Path) -> Path:
    """Write rows as JSON Lines (UTF-8, one object a line): the offline copy `load_rows` reads."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    """numpy / Arrow values (Parquet lists, int64) as plain Python."""
    out = {}
    for key, value in row.items():
        if hasattr(value, "tolist"):
            value = value.tolist()
        out[key] = value
    return out
