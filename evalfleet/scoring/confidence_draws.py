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
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from evalfleet import benchmarks
from evalfleet.errors import EvalfleetError
from evalfleet.scoring.confidence_items import ItemMatrix, TaskCells, frame_cells, item_matrix, plan_for, recipe
from evalfleet.spec.taskspec import load_task
from evalfleet.types import TaskSpec

NEEDED = ("task", "model", "item_id", "subset", "sample", "metrics", "error", "score", "extracted")
"""Record columns the item matrices and the modules' aggregates read (benchmarks' `aggregate` contract)."""
CELL_COLUMNS = ["task", "model", "item_id", "subset", "metrics", "error"]
"""Record columns the cells read (`collect_items`); NEEDED only for a module without a weighted-sum form."""
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
    """Replicates of one task from its whole frame of rows (every model); see `draw`."""
    spec = load_task(str(rows["task"].iloc[0]))
    plan = plan_for(spec, metric)
    cells = frame_cells(rows, spec, [recipe(plan)]) if plan else None
    return draw(spec, metric, cells, lambda: rows, recorded, replicates, seed)


def draw(
    spec: TaskSpec,
    metric: str,
    cells: TaskCells | None,
    rows: Callable[[], pd.DataFrame],
    recorded: pd.Series,
    replicates: int,
    seed: int,
) -> TaskDraws:
    """Replicates of one task: the weighted-sum form from `cells` when it reproduces `recorded` (model ->
    score), else the module's aggregate per replicate on the task's `rows()` (read only then)."""
    plan = plan_for(spec, metric)
    if plan is not None and cells is not None and recipe(plan) not in cells.recipes:
        cells = frame_cells(rows(), spec, [recipe(plan)])
    m = cells.matrix(plan, metric) if plan is not None and cells is not None else item_matrix(rows(), spec, metric)
    counts = resample_counts(m.bounds, replicates, task_stream(seed, spec.id))
    ones = [np.ones((1, b - a)) for a, b in zip(m.bounds[:-1], m.bounds[1:])]
    if m.fallback is None:
        point = weighted_values(m, ones)[0]
        if _agrees(point, m.models, recorded):
            return TaskDraws(m, point, weighted_values(m, counts), True)
        m = item_matrix(rows(), spec, metric, weighted=False)
    return TaskDraws(m, replicate_aggregate(m, ones)[0], replicate_aggregate(m, counts), False)


def has_items(task: str) -> bool:
    """False for tasks whose rows are not items: imported HELM tables, measured probes (throughput, memory)."""
    try:
        spec = load_task(task)
    except EvalfleetError:
        return False
    module = benchmarks.get_module(spec)
    return spec.kind != "measure" and not getattr(module, "IMPORTED", False)


@dataclass(frozen=True, eq=False)
class RecordedItems:
    """What the bootstrap reads of the recorded rows: each task's cells; a task's whole rows only on demand."""

    cells: Mapping[str, TaskCells]
    """Task id -> the cells of every model (tasks with items only)."""
    rows: Callable[[str], pd.DataFrame]
    """Task id -> its rows (NEEDED columns), for a module without a weighted-sum form (read per task)."""


def collect_items(
    groups: Iterable[tuple[tuple[str, str], pd.DataFrame]], scores: pd.DataFrame, rows: Callable[[str], pd.DataFrame]
) -> RecordedItems:
    """The cells of every task with items from its rows given one (task, model) group at a time, for every
    metric `scores` holds (memory: the cells, plus one group while it is reduced)."""
    return RecordedItems(collect_cells(groups, task_metrics(scores)), rows)


def task_metrics(scores: pd.DataFrame) -> dict[str, list[str]]:
    """Task id -> the metrics `scores` holds for it (what the cells are reduced for)."""
    return {t: list(m) for t, m in scores.groupby("task")["metric"].unique().items()} if len(scores) else {}


def collect_cells(
    groups: Iterable[tuple[tuple[str, str], pd.DataFrame]], metrics: Mapping[str, list[str]]
) -> dict[str, TaskCells]:
    """Task id -> the cells of its models in `groups` (tasks with items and metrics only), one group at a time;
    cells of other groups of the same metrics (another process's) join with `TaskCells.merge`."""
    cells: dict[str, TaskCells] = {}
    skip: set[str] = set()
    for (task, model), group in groups:
        if task in skip or not len(group):
            continue
        if task not in cells:
            if task not in metrics or not has_items(task):
                skip.add(task)
                continue
            spec = load_task(task)
            plans = [plan_for(spec, m) for m in metrics[task]]
            cells[task] = TaskCells(spec, [recipe(p) for p in plans if p is not None])
        cells[task].add(model, group)
    return cells


def frame_items(records: pd.DataFrame, scores: pd.DataFrame) -> RecordedItems:
    """RecordedItems of one frame of the whole store's rows (`ResultStore.read_records()`)."""
    records = records[[c for c in NEEDED if c in records.columns]]
    # categorical ids: a task's rows are then taken as integer codes, not as millions of strings
    records = records.astype({c: "category" for c in ("model", "item_id", "subset") if c in records.columns})
    if not len(records):
        return RecordedItems({}, lambda task: records)
    groups = records.groupby(["task", "model"], sort=True, observed=True)
    by_task = records.groupby("task", sort=True).indices
    return collect_items(groups, scores, lambda task: records.iloc[by_task[task]])


class TaskDrawer:
    """Draws each (task, metric) the views ask for once, from the recorded items."""

    def __init__(self, items: RecordedItems, scores: pd.DataFrame, replicates: int, seed: int):
        self.items = items
        self.scores = scores
        self.replicates = replicates
        self.seed = seed
        self.cache: dict[tuple[str, str], TaskDraws | None] = {}

    def __call__(self, task: str, metric: str) -> TaskDraws | None:
        """The task's replicates, or None when it has no recorded items."""
        key = (task, metric)
        if key not in self.cache:
            self.cache[key] = self._draw(task, metric)
        return self.cache[key]

    def _draw(self, task: str, metric: str) -> TaskDraws | None:
        cells = self.items.cells.get(task)
        if cells is None:
            return None
        mine = self.scores[(self.scores["task"] == task) & (self.scores["metric"] == metric)]
        recorded = mine.drop_duplicates("model").set_index("model")["value"]
        return draw(cells.spec, metric, cells, lambda: self.items.rows(task), recorded, self.replicates, self.seed)
