"""The task-score frame every view reads, and choosing each task's headline metric.

Columns: team, model, family, role, task, metric, value, n (one row per model, task and metric),
as `evalfleet.scoring.task_scores.task_scores(records)` produces and the table importers return. Imported
tables that carry one unnamed number per task use the metric name 'score', accepted for any task.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Mapping

import pandas as pd

from evalfleet.errors import EvalfleetError
from evalfleet.spec.taskspec import load_task
from evalfleet.types import TaskScore

COLUMNS = tuple(f.name for f in fields(TaskScore))
"""The frame's columns: TaskScore's fields (team, model, family, role, task, metric, value, n)."""
SCORE = "score"


def check_frame(scores: pd.DataFrame, source: str = "task scores") -> pd.DataFrame:
    """Return `scores` with the required columns and a float `value`; missing columns are an error."""
    missing = [c for c in COLUMNS if c not in scores.columns]
    if missing:
        raise EvalfleetError(f"missing columns {missing} (need {list(COLUMNS)})", source=source, field=missing[0])
    out = scores.copy()
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype(float)
    return out


def base_name(task: str) -> str:
    """'commonsenseqa:gen_c946f2' -> 'commonsenseqa'."""
    return task.partition(":")[0]


def resolve_tasks(wanted: list[str] | tuple[str, ...], present) -> tuple[list[str], list[str]]:
    """Task ids in `present` for each wanted task, in `wanted` order, and the wanted tasks with none.

    A wanted id matches itself; a wanted name without a variant also matches one variant of it
    ('commonsenseqa' -> 'commonsenseqa:gen_c946f2' when only that one was run). Two variants of one
    task are ambiguous: an error asking to name one in the rule file.
    """
    present = set(present)
    found, missing = [], []
    for task in wanted:
        if task in present:
            found.append(task)
            continue
        variants = sorted(p for p in present if ":" not in task and base_name(p) == task)
        if len(variants) > 1:
            raise EvalfleetError(
                f"task '{task}' was run as several variants {variants}; list the one to score", field="tasks"
            )
        (found if variants else missing).append(variants[0] if variants else task)
    return found, missing


def spec_metric(task: str) -> str | None:
    """The headline metric of a task spec in tasks/, or None when no spec by that name exists."""
    try:
        return load_task(task).metric
    except EvalfleetError:
        return None


def headline(scores: pd.DataFrame, tasks: list[str] | tuple[str, ...], overrides: Mapping[str, str]) -> pd.DataFrame:
    """Rows of `scores` holding each task's headline metric (rule file first, then the task spec).

    A task without a configured metric and without a task spec is accepted when it carries exactly one
    metric. The result has the frame's columns; tasks with no rows at all are simply absent.
    """
    parts = []
    for task in tasks:
        rows = scores[scores["task"] == task]
        if rows.empty:
            continue
        metric = overrides.get(task) or overrides.get(base_name(task)) or spec_metric(task)
        present = sorted(set(rows["metric"]))
        if metric is None:
            if len(present) != 1:
                raise EvalfleetError(
                    f"task '{task}' has metrics {present}; name the headline one in the rule file",
                    field=f"metrics.{task}",
                )
            metric = present[0]
        chosen = rows[rows["metric"].isin([metric, SCORE])]
        if chosen.empty:
            raise EvalfleetError(
                f"task '{task}' has no '{metric}' values (recorded metrics: {present})", field=f"metrics.{task}"
            )
        dup = chosen.duplicated(["team", "model", "task"], keep=False)
        if dup.any():
            row = chosen[dup].iloc[0]
            raise EvalfleetError(
                f"team '{row.team}' model '{row.model}' has more than one value for task '{task}'",
                field=f"metrics.{task}",
            )
        parts.append(chosen)
    if not parts:
        return scores.iloc[0:0].copy()
    return pd.concat(parts, ignore_index=True)
