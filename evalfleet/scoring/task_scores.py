"""Recorded rows → per-task scores: the DataFrame every leaderboard view is built on.

`task_scores(records)` has one row per (model, task, metric) with columns team, model, family,
role, task, metric, value, n. Each (model, task) is aggregated by its benchmark module
(`evalfleet.benchmarks.aggregate`), the task spec reloaded from tasks/ by id. Rows with an error
count as wrong (every metric 0), never dropped: a model cannot gain by failing on hard items.

`grouped_task_scores(groups)` gives the same frame from one (task, model) group at a time (the store
reads each group's SCORING_COLUMNS only, never `output`): memory is bounded by the largest group,
not by the store.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Iterable

import pandas as pd

from evalfleet import benchmarks
from evalfleet.scoring.frame import COLUMNS
from evalfleet.spec.taskspec import load_task
from evalfleet.types import TaskScore

SCORING_COLUMNS = ["task", "model", "team", "family", "role", "item_id", "subset", "sample", "extracted", "score"]
SCORING_COLUMNS += ["metrics", "error"]
"""Record columns a task score reads: ids, the benchmarks' `aggregate` contract, and `error` (zeroed rows)."""


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


def group_scores(model: str, task: str, rows: pd.DataFrame, specs: dict, *, ordered: bool = False) -> list[dict]:
    """The TaskScore rows (as dicts) of one (model, task) group of records (`ordered`: already by item and
    sample, with a fresh index, as `ResultStore.record_groups` gives them)."""
    spec = specs.get(task) or specs.setdefault(task, load_task(task))
    if not ordered:
        rows = rows.sort_values(["item_id", "sample"]).reset_index(drop=True)
    rows = zero_errors(rows, spec.metric)
    first = rows.iloc[0]
    n = int(rows["item_id"].nunique())
    out = []
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
    return out


def task_scores(records: pd.DataFrame) -> pd.DataFrame:
    """Per (model, task, metric) scores from the store's records (`ResultStore.read_records()`)."""
    if records.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    out, specs = [], {}
    for (model, task), rows in records.groupby(["model", "task"], sort=True):
        out += group_scores(model, task, rows, specs)
    return pd.DataFrame(out, columns=list(COLUMNS))


def grouped_task_scores(groups: Iterable[tuple[tuple[str, str], pd.DataFrame]]) -> pd.DataFrame:
    """`task_scores` of the records given one (task, model) group at a time, each group's rows by item and
    sample (`ResultStore.record_groups`): the same frame, in memory bounded by the largest group."""
    return scores_frame(scored_groups(groups))


def scored_groups(groups: Iterable[tuple[tuple[str, str], pd.DataFrame]]) -> list[tuple[str, str, list[dict]]]:
    """(model, task, its TaskScore rows as dicts) of each non-empty group (rows by item and sample, as
    `ResultStore.record_groups` gives them), in the order given."""
    out, specs = [], {}
    for (task, model), rows in groups:
        if len(rows):
            out.append((model, task, group_scores(model, task, rows, specs, ordered=True)))
    return out


def scores_frame(scored: Iterable[tuple[str, str, list[dict]]]) -> pd.DataFrame:
    """The task-score frame of `scored_groups` results (any order, e.g. from several processes): by (model, task)."""
    rows = [row for _, _, scores in sorted(scored, key=lambda x: (x[0], x[1])) for row in scores]
    return pd.DataFrame(rows, columns=list(COLUMNS))
