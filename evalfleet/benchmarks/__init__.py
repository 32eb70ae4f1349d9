"""Benchmark modules: the code a task spec names in its `module:` field.

A module `evalfleet/benchmarks/<name>.py` is a handful of pure functions; the contract is in code,
`evalfleet.contracts` (BenchmarkModule, and per task kind GenerateModule / LoglikelihoodModule /
MeasureModule):

    OPTIONS: frozenset[str]
        The keys the module reads from spec.options; a task YAML with another key is rejected
        when it is loaded (evalfleet.spec.taskspec), naming the file and 'options.<key>'.
    load_items(spec: TaskSpec, data_dir: Path) -> list[Item]
        Read the official files (spec.data_files, relative to data_dir) and build the items,
        prompts as Message rounds (few-shot exemplars first). Raise EvalfleetError naming the
        file on a missing or malformed file.
    extract(text: str, item: Item, spec: TaskSpec) -> str          (generate tasks)
        The answer as OpenCompass's postprocessor would extract it from the model's output.
    score(extracted: str, item: Item, spec: TaskSpec) -> dict[str, float]
        Per-item metrics; must contain spec.metric (or the key `aggregate` turns into it).
        For loglikelihood tasks `extracted` is the chosen choice index as a string.
    measure(backend: Backend, item: Item, spec: TaskSpec) -> dict[str, float]   (measure tasks)
        Probe the worker's loaded model.
    aggregate(rows: pandas.DataFrame, spec: TaskSpec) -> dict[str, float]      (optional)
        Task-level metrics from the recorded rows (columns: item_id, subset, sample,
        extracted, score, metrics (dict per row)). Default: `default_aggregate`.
    choose(logliks: list[Loglik], item: Item, spec: TaskSpec) -> str            (optional)
        For loglikelihood tasks, the chosen index; default: `default_choose` (highest summed
        log-probability, the first on ties).
    SCORE_ON_CPU_TASK = True                                                    (optional)
        The module's `score` executes untrusted code: the driver runs it in Ray CPU tasks
        through the sandbox, never inside a GPU model worker.

    IMPORTED = True                                                             (optional)
        The task's rows are imported results (HELM 2023 tables), not model outputs: nothing to
        re-extract or re-score.

Modules are imported lazily by name (this file is the registry); nothing registers itself by
import side effect.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
from functools import lru_cache
from types import ModuleType
from typing import Sequence

import pandas as pd

from evalfleet.benchmarks._frames import metrics_frame
from evalfleet.errors import EvalfleetError
from evalfleet.types import Item, Loglik, TaskSpec


def get_module(spec: TaskSpec) -> ModuleType:
    """Import evalfleet.benchmarks.<spec.module>."""
    return _import(spec.module)


@lru_cache(maxsize=None)
def _import(name: str) -> ModuleType:
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{name}":
            raise EvalfleetError(f"no benchmark module 'evalfleet/benchmarks/{name}.py'", field="module") from exc
        raise


def module_options(name: str) -> frozenset[str]:
    """The option keys module `name` declares (its OPTIONS; none when it declares nothing)."""
    return frozenset(getattr(_import(name), "OPTIONS", ()))


@lru_cache(maxsize=None)
def code_version(module_name: str) -> str:
    """sha256 of the module's source and of its shared helpers: part of every shard fingerprint."""
    digest = hashlib.sha256()
    digest.update(inspect.getsource(_import(module_name)).encode())
    return digest.hexdigest()


def default_aggregate(rows: pd.DataFrame, spec: TaskSpec) -> dict[str, float]:
    """Mean of every per-item metric over items (samples averaged first), in percent."""
    if rows.empty:
        return {}
    metrics = metrics_frame(rows)
    metrics["item_id"] = rows["item_id"].values
    per_item = metrics.groupby("item_id").mean(numeric_only=True)
    return {name: float(per_item[name].mean() * 100.0) for name in per_item.columns}


def aggregate(rows: pd.DataFrame, spec: TaskSpec) -> dict[str, float]:
    """The module's aggregate if it has one, else `default_aggregate`."""
    module = get_module(spec)
    fn = getattr(module, "aggregate", None)
    return fn(rows, spec) if fn else default_aggregate(rows, spec)


def default_choose(logliks: Sequence[Loglik], item: Item | None = None, spec: TaskSpec | None = None) -> str:
    """The index of the highest summed log-probability, the first one on ties (numpy.argmax), as a string."""
    return str(max(range(len(logliks)), key=lambda j: (logliks[j].logprob, -j)))


def choose(logliks: Sequence[Loglik], item: Item, spec: TaskSpec) -> str:
    """A loglikelihood item's chosen index: the module's `choose` if it has one, else `default_choose`."""
    fn = getattr(get_module(spec), "choose", None) or default_choose
    return str(fn(list(logliks), item, spec))
