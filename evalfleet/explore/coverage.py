"""Coverage: items scored against items planned, per team and task, and which tasks are still provisional.

Planned items per model come from the run config (`Catalog`: the task's items, the `limit` applied);
where a task's items cannot be loaded here, the most items any model has stored stands in. A task is
provisional until every model the config lists (or the store holds) has all of its planned items.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from evalfleet.explore.catalog import Catalog

COLUMNS = ("team", "task", "models", "scored", "planned", "complete")
"""Columns of the per-team coverage frame."""


@dataclass(frozen=True, eq=False)
class Coverage:
    """Items scored and planned, per (team, task) and per (model, task)."""

    teams: pd.DataFrame
    """One row per (team, task): COLUMNS (`scored` and `planned` are items summed over the team's models)."""
    models: pd.DataFrame
    """One row per (model, task): team, model, task, scored, planned, complete."""
    planned_from: dict[str, str]
    """Task -> where its plan came from: 'run config' or 'items stored' (its items did not load here)."""

    @property
    def provisional(self) -> tuple[str, ...]:
        """Tasks some model has not completed yet."""
        return tuple(sorted(set(self.models.loc[~self.models["complete"], "task"])))

    def totals(self) -> tuple[int, int]:
        """(items scored, items planned) over every model and task."""
        return int(self.models["scored"].sum()), int(self.models["planned"].sum())


def coverage(records: pd.DataFrame, catalog: Catalog) -> Coverage:
    """Coverage of `records` (the store's rows: model, team, task, item_id) against the run config's plan."""
    stored = records.groupby(["model", "task"])["item_id"].nunique().to_dict() if len(records) else {}
    teams = {m: ref.team for m, ref in catalog.models().items()}
    if len(records):
        teams.update(records.drop_duplicates("model").set_index("model")["team"].to_dict())
    tasks = list(dict.fromkeys(catalog.task_ids() + sorted(set(records["task"]) if len(records) else set())))
    planned, source = {}, {}
    for task in tasks:
        plan = catalog.plan(task).planned
        here = [int(stored.get((m, task), 0)) for m in teams]
        planned[task] = plan if plan is not None else max(here, default=0)
        source[task] = "run config" if plan is not None else "items stored"
    rows = [
        {
            "team": team,
            "model": model,
            "task": task,
            "scored": int(stored.get((model, task), 0)),
            "planned": planned[task],
        }
        for model, team in sorted(teams.items())
        for task in tasks
    ]
    models = pd.DataFrame(rows, columns=["team", "model", "task", "scored", "planned"])
    models["complete"] = models["scored"] >= models["planned"]
    per_team = (
        models.groupby(["team", "task"], sort=True)
        .agg(models=("model", "nunique"), scored=("scored", "sum"), planned=("planned", "sum"))
        .reset_index()
    )
    per_team["complete"] = per_team["scored"] >= per_team["planned"]
    return Coverage(per_team[list(COLUMNS)], models, source)
