"""`evalfleet judge TASK --data-dir DIR --predictions FILE`: extract and score given outputs, as the task would.

Input lines: {"item_id": str, "prediction": str} (optionally "sample": int for pass@k). Output lines:
{"item_id", "extracted", "score"} per prediction, then {"task", "metric", "value", "n"}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from evalfleet.benchmarks import aggregate, get_module
from evalfleet.errors import EvalfleetError
from evalfleet.jsonl import iter_jsonl
from evalfleet.spec.taskspec import load_task

HELP = "score given predictions (JSON lines {item_id, prediction}) with the task's extraction and metric"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", help="task id: name or name:variant")
    parser.add_argument("--data-dir", required=True, type=Path, help="folder holding the official benchmark files")
    parser.add_argument("--predictions", required=True, type=Path, help="JSON lines {item_id, prediction}")


def main(args: argparse.Namespace) -> int:
    spec = load_task(args.task)
    items = get_module(spec).load_items(spec, args.data_dir)
    predictions = read_predictions(args.predictions)
    rows = judge(spec, items, predictions, source=str(args.predictions))
    out = sys.stdout
    for row in rows.itertuples():
        line = {"item_id": row.item_id, "extracted": row.extracted, "score": row.score}
        if row.sample:
            line["sample"] = int(row.sample)
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    out.write(json.dumps(summary(spec, rows)) + "\n")
    return 0


def read_predictions(path: Path) -> list[dict[str, Any]]:
    """The prediction lines; a malformed line raises an error naming the file and line number."""
    if not path.is_file():
        raise EvalfleetError("predictions file not found", source=str(path))
    out = []
    for n, row in iter_jsonl(path):
        if (
            not isinstance(row, dict)
            or not isinstance(row.get("item_id"), str)
            or not isinstance(row.get("prediction"), str)
        ):
            raise EvalfleetError(f'line {n}: expected {{"item_id": str, "prediction": str}}', source=str(path))
        sample = row.get("sample", 0)
        if not isinstance(sample, int) or sample < 0:
            raise EvalfleetError(f"line {n}: 'sample' must be an integer >= 0", source=str(path))
        out.append({"item_id": row["item_id"], "prediction": row["prediction"], "sample": sample, "line": n})
    return out


def judge(
    spec, items: Iterable, predictions: Iterable[Mapping[str, Any]], *, source: str = "<predictions>"
) -> pd.DataFrame:
    """Record rows (item_id, subset, sample, extracted, score, metrics) for the given predictions (pure)."""
    module = get_module(spec)
    by_id = {item.id: item for item in items}
    seen: set[tuple[str, int]] = set()
    rows = []
    for p in predictions:
        where = f"line {p.get('line', '?')}"
        item = by_id.get(p["item_id"])
        if item is None:
            raise EvalfleetError(f"{where}: unknown item_id {p['item_id']!r} for task {spec.id}", source=source)
        key = (item.id, int(p.get("sample", 0)))
        if key in seen:
            raise EvalfleetError(f"{where}: duplicate prediction for item {item.id} sample {key[1]}", source=source)
        seen.add(key)
        extracted = p["prediction"] if spec.kind == "loglikelihood" else module.extract(p["prediction"], item, spec)
        metrics = module.score(extracted, item, spec)
        value = metrics.get(spec.metric, next(iter(metrics.values()), 0.0))
        rows.append(
            {
                "item_id": item.id,
                "subset": item.subset,
                "sample": key[1],
                "extracted": extracted,
                "score": float(value),
                "metrics": dict(metrics),
            }
        )
    return pd.DataFrame(rows, columns=["item_id", "subset", "sample", "extracted", "score", "metrics"])


def summary(spec, rows: pd.DataFrame) -> dict[str, Any]:
    """The last line: the task's headline metric aggregated over the rows."""
    metrics = aggregate(rows, spec) if not rows.empty else {}
    value = metrics.get(spec.metric)
    return {
        "task": spec.id,
        "metric": spec.metric,
        "value": None if value is None else float(value),
        "n": int(rows["item_id"].nunique()) if not rows.empty else 0,
    }
