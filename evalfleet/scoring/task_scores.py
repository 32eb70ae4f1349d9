"""Recorded rows → per-task scores: the DataFrame every leaderboard view is built on.

`task_scores(records)` has one row per (model, task, metric) with columns team, model, family,
role, task, metric, value, n. Each (model, task) is aggregated by its benchmark module
(`evalfleet.benchmarks.aggregate`), the task spec reloaded from tasks/ by id. Rows with an error
count as wrong (every metric 0), never dropped: a model cannot gain by failing on hard items.
"""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd

from evalfleet import benchmarks
from evalfleet.scoring.frame import COLUMNS
from evalfleet.spec.taskspec import load_task
from evalfleet.types import TaskScore


def zero_errors(rows: pd.DataFrame, metric: str) -> pd.DataFrame:
    """`rows` with each errored row's metrics set to 0 for every metric the other rows report (or `metric`)."""
    if "error" not in rows or not rows["error"].notna().any():
        return rows
    bad = rows["error"].notna()
    keys = sorted({k for m in rows.loc[~bad, "metrics"] for k in (m or {})}) or [metric]
    rows = rows.copy()
    rows.loc[bad, "score"] = 0.0
    rows["metrics"] = [({k: 0.0 for k in keys} if is_bad else m) for m, is_bad in zip(rows["metrics"], bad)]
    return rows


def task_scores(records: pd.DataFrame) -> pd.DataFrame:
    """Per (model, task, metric) scores from the store's records (`ResultStore.read_records()`)."""
    out = []
    specs = {}
    if records.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    for (model, task), rows in records.groupby(["model", "task"], sort=True):
        spec = specs.get(task) or specs.setdefault(task, load_task(task))
        rows = zero_errors(rows.sort_values(["item_id", "sample"]).reset_index(drop=True), spec.metric)
        first = rows.iloc[0]
        n = int(rows["item_id"].nunique())
        for metric, value in benchmarks.aggregate(rows, spec).items():
            score = TaskScore(
                team=first["team"],
                model=model,
                family=first["family"],
                role=first["role"],
                task=task,
                metric=metric,
                value=float(value),
                n=n,
            )
            out.append(asdict(score))
    return pd.DataFrame(out, columns=list(COLUMNS))
