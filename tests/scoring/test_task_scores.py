"""task_scores: the store read one (task, model) group at a time, only the scoring columns, gives exactly the
frame of the whole-store read; and `evalfleet score` stays in a fixed memory budget whatever the outputs weigh."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pandas as pd
import pyarrow as pa
import pytest
from _store import MODELS, TASKS, mixed_store

from evalfleet.scoring.task_scores import SCORING_COLUMNS, grouped_task_scores, task_scores
from evalfleet.spec.taskspec import load_task
from evalfleet.store.results import RECORD_SCHEMA, ResultStore
from evalfleet.types import ModelRef, Shard


@pytest.fixture(scope="module")
def store(tmp_path_factory, shared_data) -> ResultStore:
    return mixed_store(tmp_path_factory.mktemp("scores"), shared_data)


def test_grouped_scores_equal_the_whole_store_read(store):
    old = task_scores(store.read_records())
    new = grouped_task_scores(store.record_groups(SCORING_COLUMNS))
    pd.testing.assert_frame_equal(old, new)
    metrics = set(new["metric"])
    assert {"plan_str_v1/f1_score", "score"} <= metrics  # teval's per-subset means and its headline
    assert len(new[new["task"] == "bbh"]["metric"].unique()) > 1  # bbh's per-subset accuracies
    assert set(new["model"]) == {m.id for m in MODELS} and len(set(new["task"])) == len(TASKS)


def test_groups_read_only_the_columns_asked_for(store):
    (key, frame), *_ = store.record_groups(["task", "model", "item_id", "metrics"])
    assert list(frame.columns) == ["task", "model", "item_id", "metrics"] and isinstance(frame["metrics"][0], dict)
    records = store.read_records(columns=["task", "model", "score"])
    assert list(records.columns) == ["task", "model", "score"] and len(records) == len(store.read_records())


# ---- memory: a store whose outputs weigh far more than the budget -----------------------------
BUDGET_MIB = 512
"""Peak RSS allowed to `evalfleet score --no-confidence` (interpreter, pandas, pyarrow, report: ~210 MiB measured)."""
OUTPUT_MIB = 1200
"""What the stored outputs weigh in memory: twice the budget (the whole-store read peaks at ~1.8 GiB on it)."""


def big_store(root) -> None:
    store = ResultStore(str(root))
    store.save_run_config({"edition": "edge-llm-2024", "track": "compression"})
    spec = load_task("gsm8k")
    per_row = 100_000
    rows_per_shard = 50
    shards = OUTPUT_MIB * 2**20 // (per_row * rows_per_shard)
    for n in range(shards):
        model = ModelRef(team=f"T{n % 4}", family=("phi-2", "llama-3-8b", "qwen2-7b")[n % 3], path="/ckpt")
        fp = f"big{n:03d}"
        ids = tuple(f"{n // 12:02d}{i:03d}" for i in range(rows_per_shard))
        shard = Shard(task=spec, model=model, index=n // 12, item_ids=ids, fingerprint=fp)
        text = os.urandom(per_row // 2).hex()  # incompressible: every byte is read if anything reads it
        table = pa.Table.from_pylist(
            [
                {
                    **{"shard": fp, "task": spec.id, "model": model.id, "team": model.team, "family": model.family},
                    **{"role": "submission", "item_id": i, "sample": 0, "output": text, "extracted": "1"},
                    **{"score": 1.0, "metrics": json.dumps({"accuracy": float(k % 2)})},
                }
                for k, i in enumerate(ids)
            ],
            schema=RECORD_SCHEMA,
        )
        store.write_shard(shard, table, 1.0)


def test_score_memory_stays_under_a_fixed_budget_whatever_the_outputs_weigh(tmp_path):
    big_store(tmp_path)
    # VmHWM: this process's own peak RSS (ru_maxrss would also count the pytest process it was forked from)
    program = (
        "import sys; from evalfleet import cli; rc = cli.main(sys.argv[1:]); "
        "print(next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM'))); sys.exit(rc)"
    )
    args = ["score", str(tmp_path), "--out", str(tmp_path / "report"), "--no-confidence"]
    done = subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    peak_mib = int(done.stdout.strip().splitlines()[-1]) / 1024
    assert peak_mib < BUDGET_MIB, f"score peaked at {peak_mib:.0f} MiB (budget {BUDGET_MIB})"
    assert (tmp_path / "report" / "leaderboard.md").is_file()
