"""A synthetic results root for the explorer's tests, written through ResultStore.write_shard (real shard
files and manifest lines, no model): teams x families x tasks, one shard per (model, task), answers with
a known pattern, prompt hashes of the real gsm8k / commonsenseqa items so prompts check out."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
from _runtime import row_identity

from evalfleet.benchmarks.prompting import prompt_hash, render
from evalfleet.plan.shards import task_items
from evalfleet.spec.taskspec import load_task
from evalfleet.store.environment import with_environment
from evalfleet.store.results import RECORD_SCHEMA, ResultStore
from evalfleet.types import ModelRef, Shard

FAMILIES = ("phi-2", "llama-3-8b", "qwen2-7b")
"""The three families edge-llm-2024 averages over."""
TASKS = ("gsm8k", "commonsenseqa")


METRICS = {"tydiqa": ("exact_match", "f1")}
"""Per-item metrics of tasks whose aggregate reads more than the spec's metric."""


def rows_for(spec, ref: ModelRef, items, k: int) -> list[dict]:
    """One row per item: model k answers item i right when (i + k) % 3 != 0; item 1 of team 'team1' errors."""
    rows = []
    for i, item in enumerate(items):
        error = "RuntimeError: out of memory" if ref.team == "team1" and i == 1 else None
        right = (i + k) % 3 != 0 and error is None
        answer = str(item.reference) if right else "-1"
        value = 1.0 if right else 0.0
        rows.append(
            dict(
                shard="",
                **row_identity(spec, ref),
                item_id=item.id,
                subset=item.subset or ("even" if i % 2 == 0 else "odd"),
                sample=0,
                prompt_hash=prompt_hash(render(item.messages, "base")) if error is None else "",
                output=f"Let me think about item {item.id}. The answer is {answer}" if error is None else "",
                n_prompt_tokens=40,
                n_output_tokens=12,
                extracted=answer if error is None else "",
                score=value,
                metrics=json.dumps({m: value for m in METRICS.get(spec.name, (spec.metric,))}),
                error=error,
                isolation=None,
                latency_s=0.01,
            )
        )
    return rows


def write_store(
    root: Path, data_dir: Path, *, teams: int = 3, n_items: int = 6, families=FAMILIES, tasks=TASKS, run_id: str = ""
) -> ResultStore:
    """A results root with run.yaml (edge-llm-2024, compression track) and one shard per (team, family, task)."""
    store = ResultStore(str(root))
    subs = [
        {"team": f"team{t}", "family": fam, "path": f"/ckpt/team{t}/{fam}", "dtype": "float16", "role": "submission"}
        for t in range(teams)
        for fam in families
    ]
    store.save_run_config(
        {
            "edition": "edge-llm-2024",
            "track": "compression",
            "tasks": list(tasks),
            "data_dir": str(data_dir),
            "limit": n_items,
            "shard_size": n_items,
            "submissions": subs,
        }
    )
    store.run_id = run_id or None
    for task in tasks:
        spec = load_task(task)
        items = sorted(task_items(spec, data_dir), key=lambda i: i.id)[:n_items]
        for k, sub in enumerate(subs):
            ref = ModelRef(team=sub["team"], family=sub["family"], path=sub["path"])
            fp = f"{task}-{ref.id}-{run_id}".replace(":", "_")
            rows = [{**r, "shard": fp} for r in rows_for(spec, ref, items, k)]
            table = pa.Table.from_pylist(rows, schema=RECORD_SCHEMA)
            table = with_environment(table, {"host": "synthetic", "device": "cpu"})
            shard = Shard(task=spec, model=ref, index=0, item_ids=tuple(i.id for i in items), fingerprint=fp)
            store.write_shard(shard, table, 0.01)
    return store
