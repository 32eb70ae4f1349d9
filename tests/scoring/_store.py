"""A shard of hand-made per-item metrics written into a real results store (scoring tests' fixtures)."""

from __future__ import annotations

import json
import random

import pyarrow as pa
from _runtime import row_identity

from evalfleet import benchmarks
from evalfleet.plan.shards import task_items
from evalfleet.spec.taskspec import load_task
from evalfleet.store.results import RECORD_SCHEMA, ResultStore
from evalfleet.types import ModelRef, Shard


def write_shard(store: ResultStore, task_id: str, ref: ModelRef, metrics: list[dict], subsets=None) -> None:
    spec = load_task(task_id)
    fp = f"{task_id}-{ref.id}".replace(":", "_")
    rows = [
        dict(
            shard=fp,
            **row_identity(spec, ref),
            item_id=f"{i:03d}",
            subset=subsets[i] if subsets else "",
            sample=0,
            prompt_hash="",
            output="",
            n_prompt_tokens=1,
            n_output_tokens=1,
            logliks=None,
            extracted="",
            score=m.get(spec.metric),
            metrics=json.dumps(m),
            error=None,
            isolation=None,
            latency_s=0.0,
        )
        for i, m in enumerate(metrics)
    ]
    shard = Shard(task=spec, model=ref, index=0, item_ids=tuple(r["item_id"] for r in rows), fingerprint=fp)
    store.write_shard(shard, pa.Table.from_pylist(rows, schema=RECORD_SCHEMA), 0.0)


def subset_names(task: str, n: int) -> list[str]:
    """`n` subset names cycling over a few of the task's real subsets (BBH subtasks, CHID splits, LongBench
    subsets, TyDiQA languages; '' for tasks without subsets)."""
    spec = load_task(task)
    module = benchmarks.get_module(spec)
    names = {
        "bbh": lambda: list(module.subtasks(spec))[:4],
        "chid": lambda: list(spec.options["splits"]),
        "longbench": lambda: list(spec.options["subsets"])[:5],
        "tydiqa": lambda: [module.language_of(f) for f in spec.data_files][:3],
    }.get(task, lambda: [""])()
    return [names[i % len(names)] for i in range(n)]


TASKS = ("bbh", "teval", "tydiqa", "gsm8k", "truthfulqa", "chid", "longbench:multi_news")
"""Real modules, per-subset aggregates among them (bbh, teval, tydiqa, longbench)."""
MODELS = [ModelRef(team=t, family=f, path="/ckpt") for t in ("A", "B") for f in ("phi-2", "llama-3-8b")]


def metrics_of(spec, item, right: bool) -> dict:
    ref = item.reference[0] if isinstance(item.reference, (list, tuple)) and item.reference else item.reference
    try:
        return benchmarks.get_module(spec).score(str(ref) if right else "zzz", item, spec)
    except Exception:  # noqa: BLE001 - a reference the module does not take as an answer
        return {spec.metric: float(right)}


def shard_rows(spec, items, model: ModelRef, fp: str, rng: random.Random) -> pa.Table:
    records = []
    for n, item in enumerate(items):
        metrics = {k: v for k, v in metrics_of(spec, item, rng.random() < 0.5).items() if k != "isolation"}
        error = "worker lost" if rng.random() < 0.05 else None
        for sample in (1, 0) if n % 7 == 0 else (0,):  # a few items with two samples, stored out of order
            records.append(
                {
                    "shard": fp,
                    "task": spec.id,
                    "model": model.id,
                    "team": model.team,
                    "family": model.family,
                    "role": "submission",
                    "item_id": item.id,
                    "subset": item.subset or None,
                    "sample": sample,
                    "output": "x" * rng.randint(10, 300),
                    "extracted": "e",
                    "score": float(metrics.get(spec.metric, 0.0)),
                    "metrics": json.dumps(metrics) if error is None else "",
                    "error": error,
                }
            )
    return pa.Table.from_pylist(records, schema=RECORD_SCHEMA)


def mixed_store(root, data_dir) -> ResultStore:
    """A store of TASKS x MODELS, 60 random items each in 3 shards written out of index order, a few items
    with two samples, ~5% errored rows: what the scoring tests read."""
    store, rng = ResultStore(str(root)), random.Random(7)
    for task in TASKS:
        spec = load_task(task)
        items = sorted(task_items(spec, data_dir), key=lambda i: i.id)
        items = rng.sample(items, min(60, len(items)))
        for model in MODELS:
            for index in (2, 0, 1):  # written out of order: the read orders by shard index
                part = items[index * 20 : index * 20 + 20]
                fp = f"{spec.id}-{model.id}-{index}".replace(":", "@")
                shard = Shard(task=spec, model=model, index=index, item_ids=tuple(i.id for i in part), fingerprint=fp)
                store.write_shard(shard, shard_rows(spec, part, model, fp, rng), 1.0)
    return ResultStore(str(root))
