"""Bootstrap replicates of every model's task score: one count matrix per task, shared by all models.

A replicate draws each task's items with replacement (within each stratum when the task averages per
subset; an item's samples travel together), the same draw for every model of every team — the
comparison is paired. Counts are a replicates x items matrix (np.random.Generator seeded from the
rule file's seed and the task id, so adding a task changes no other task's draw), and every
model's replicate scores are the matrix products of confidence_items' weighted sums. The point value
(all counts 1) must equal task_scores' value of every model; where it does not, or where the module
has no weighted-sum form, the module's own aggregate runs on each replicate's resampled rows.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalfleet import benchmarks
from evalfleet.errors import EvalfleetError
from evalfleet.scoring.confidence_items import ItemMatrix, item_matrix
from evalfleet.spec.taskspec import load_task

NEEDED = ("task", "model", "item_id", "subset", "sample", "metrics", "error", "score", "extracted")
"""Record columns the item matrices and the modules' aggregates read (benchmarks' `aggregate` contract)."""
TOLERANCE = 1e-9
"""Largest accepted |point - recorded score| / max(1, |recorded score|)."""


@dataclass(frozen=True, eq=False)
class TaskDraws:
    """Replicate scores of one task's headline metric for every model that recorded it."""

    matrix: ItemMatrix
    """The items and per-item scores."""
    point: np.ndarray
    """Score of each model with every item once (equals the recorded task score)."""
    draws: np.ndarray
    """replicates x models scores."""
    weighted: bool
    """True: weighted sums (fast path); False: the module's aggregate per replicate."""

    def column(self, model: str) -> int | None:
        """Column of `model`, or None when it recorded no item of the task."""
        try:
            return self.matrix.models.index(model)
        except ValueError:
            return None


def task_stream(seed: int, task: str) -> np.random.Generator:
    """The task's own random stream: a function of the seed and the task id only."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(zlib.crc32(task.encode()),)))


def resample_counts(bounds: tuple[int, ...], replicates: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Per stratum, a replicates x n count matrix: n draws with replacement among its n items per replicate."""
    out = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        n = b - a
        draws = rng.integers(0, n, size=(replicates, n))
        draws += np.arange(replicates)[:, None] * n
        out.append(np.bincount(draws.ravel(), minlength=replicates * n).reshape(replicates, n).astype(float))
    return out


def weighted_values(m: ItemMatrix, counts: list[np.ndarray]) -> np.ndarray:
    """replicates x models: scale * sum_s A[s] * (C_s @ num_s) / (C_s @ den_s), rounded as the module rounds."""
    reps = counts[0].shape[0]
    total = np.zeros((reps, len(m.models)))
    undefined = np.zeros((reps, len(m.models)), dtype=bool)
    for s, c in enumerate(counts):
        a, b = m.bounds[s], m.bounds[s + 1]
        w = m.weights[s]
        if not w.any():
            continue
        num = c @ m.num[a:b]
        den_block = m.den[a:b]
        den = np.broadcast_to(c.sum(axis=1)[:, None], num.shape) if (den_block == 1).all() else c @ den_block
        total += w * np.divide(num, den, out=np.zeros_like(num), where=den > 0)
        undefined |= (den <= 0) & (w > 0)
    value = m.scale * total
    value[undefined | ~m.weights.any(axis=0)[None, :]] = np.nan
    return value if m.decimals is None else np.round(value, m.decimals)


def replicate_aggregate(m: ItemMatrix, counts: list[np.ndarray]) -> np.ndarray:
    """replicates x models by the module's own aggregate on each replicate's resampled rows (slow, exact)."""
    full = np.concatenate(counts, axis=1).astype(int)
    out = np.full((full.shape[0], len(m.models)), np.nan)
    for j, model in enumerate(m.models):
        rows, item = m.fallback[model], m.item_of_row[model]
        ids = rows["item_id"].astype(str).to_numpy()
        for r in range(full.shape[0]):
            reps = full[r, item]
            idx = np.repeat(np.arange(len(rows)), reps)
            copy = np.arange(len(idx)) - np.repeat(np.cumsum(reps) - reps, reps)
            sample = rows.iloc[idx].assign(item_id=[f"{i}#{k}" for i, k in zip(ids[idx], copy)])
            out[r, j] = benchmarks.aggregate(sample.reset_index(drop=True), m.spec).get(m.metric, np.nan)
    return out


def _agrees(point: np.ndarray, models: tuple[str, ...], recorded: pd.Series) -> bool:
    expected = recorded.reindex(list(models)).to_numpy(dtype=float)
    both_nan = np.isnan(point) & np.isnan(expected)
    close = np.abs(point - expected) <= TOLERANCE * np.maximum(1.0, np.abs(expected))
    return bool((both_nan | close).all())


def draw_task(rows: pd.DataFrame, metric: str, recorded: pd.Series, replicates: int, seed: int) -> TaskDraws:
    """Replicates of one task: the weighted-sum form when it reproduces `recorded` (model -> score), else
    the module's aggregate per replicate."""
    spec = load_task(str(rows["task"].iloc[0]))
    m = item_matrix(rows, spec, metric)
    counts = resample_counts(m.bounds, replicates, task_stream(seed, spec.id))
    ones = [np.ones((1, b - a)) for a, b in zip(m.bounds[:-1], m.bounds[1:])]
    if m.fallback is None:
        point = weighted_values(m, ones)[0]
        if _agrees(point, m.models, recorded):
            return TaskDraws(m, point, weighted_values(m, counts), True)
        m = item_matrix(rows, spec, metric, weighted=False)
    return TaskDraws(m, replicate_aggregate(m, ones)[0], replicate_aggregate(m, counts), False)


def has_items(task: str) -> bool:
    """False for tasks whose rows are not items: imported HELM tables, measured probes (throughput, memory)."""
    try:
        spec = load_task(task)
    except EvalfleetError:
        return False
    module = benchmarks.get_module(spec)
    return spec.kind != "measure" and not getattr(module, "IMPORTED", False)


class TaskDrawer:
    """Draws each (task, metric) the views ask for once, from the records grouped by task."""

    def __init__(self, records: pd.DataFrame, scores: pd.DataFrame, replicates: int, seed: int):
        records = records[[c for c in NEEDED if c in records.columns]]
        # categorical ids: a task's rows are then taken as integer codes, not as millions of strings
        self.records = records.astype({c: "category" for c in ("model", "item_id", "subset") if c in records.columns})
        self.scores = scores
        self.replicates = replicates
        self.seed = seed
        self.rows = records.groupby("task", sort=True).indices if len(records) else {}
        self.cache: dict[tuple[str, str], TaskDraws | None] = {}

    def __call__(self, task: str, metric: str) -> TaskDraws | None:
        """The task's replicates, or None when it has no recorded items."""
        key = (task, metric)
        if key not in self.cache:
            self.cache[key] = self._draw(task, metric)
        return self.cache[key]

    def _draw(self, task: str, metric: str) -> TaskDraws | None:
        if task not in self.rows or not has_items(task):
            return None
        rows = self.records.iloc[self.rows[task]]
        mine = self.scores[(self.scores["task"] == task) & (self.scores["metric"] == metric)]
        recorded = mine.drop_duplicates("model").set_index("model")["value"]
        return draw_task(rows, metric, recorded, self.replicates, self.seed)
