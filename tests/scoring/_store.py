"""A shard of hand-made per-item metrics written into a real results store (scoring tests' fixtures)."""

from __future__ import annotations

import json

import pyarrow as pa
from _runtime import row_identity

from evalfleet import benchmarks
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
