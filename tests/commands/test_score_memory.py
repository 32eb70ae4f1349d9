"""`evalfleet score` with confidence on stays under a fixed memory budget, whatever the outputs and rows weigh.

Peak memory is the VmHWM of the scoring subprocess (its own peak RSS). The stores are real results roots
written through `ResultStore.write_shard`; the reference for the budget is what the same command needs for
its interpreter, pandas, pyarrow and the report (~210 MiB measured) plus the bootstrap's per-item cells.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from evalfleet.spec.taskspec import load_task
from evalfleet.store.results import RECORD_SCHEMA, ResultStore
from evalfleet.types import ModelRef, Shard

BUDGET_MIB = 512
"""Peak RSS allowed to `evalfleet score` with confidence on."""
WORKER_MIB = 256
"""Allowed to each score worker process (above 200,000 rows): interpreter, pandas, pyarrow, two groups (~190 MiB
measured)."""
FAMILIES = ("phi-2", "llama-3-8b", "qwen2-7b")


def final_store(root, *, models: int, items: int, output_bytes: int, rows_per_shard: int = 50) -> int:
    """A gsm8k final: `models` models (teams of three families) x `items` items, outputs of `output_bytes`
    incompressible characters per row, accuracy ~ 0.3 + 0.4 model/models. Returns the rows written."""
    store = ResultStore(str(root))
    store.save_run_config({"edition": "edge-llm-2024", "track": "compression"})
    spec = load_task("gsm8k")
    rng = np.random.default_rng(0)
    text = os.urandom(output_bytes // 2).hex()  # every byte is read if anything reads the outputs
    for n in range(models):
        model = ModelRef(team=f"T{n // 3:03d}", family=FAMILIES[n % 3], path="/ckpt")
        hits = rng.random(items) < 0.3 + 0.4 * n / models
        for index in range(0, items, rows_per_shard):
            ids = tuple(f"{i:05d}" for i in range(index, min(items, index + rows_per_shard)))
            fp = f"m{n:03d}-{index:05d}"
            shard = Shard(task=spec, model=model, index=index // rows_per_shard, item_ids=ids, fingerprint=fp)
            common = {"shard": fp, "task": spec.id, "model": model.id, "team": model.team, "family": model.family}
            common |= {"role": "submission", "sample": 0, "output": text, "extracted": "1"}
            rows = [
                common | {"item_id": i, "score": float(h), "metrics": json.dumps({"accuracy": float(h)})}
                for i, h in zip(ids, hits[index : index + len(ids)])
            ]
            store.write_shard(shard, pa.Table.from_pylist(rows, schema=RECORD_SCHEMA), 1.0)
    return models * items


def peak_of_score(root, out, *extra: str, jobs: int = 2) -> float:
    """Peak memory (MiB) of `evalfleet score ROOT --out OUT --jobs JOBS` (confidence on unless `extra`): its own
    VmHWM plus, when it scored in worker processes, JOBS times the largest worker's peak RSS (an upper bound of
    the sum: the workers run at the same time)."""
    # VmHWM: this process's own peak RSS (ru_maxrss would also count the pytest process it was forked from);
    # RUSAGE_CHILDREN: the largest of its waited-for children, here the score workers
    program = (
        "import resource, sys; from evalfleet import cli; rc = cli.main(sys.argv[1:]); "
        "own = next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM')); "
        "print(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)"
    )
    args = ["score", str(root), "--out", str(out), "--jobs", str(jobs), *extra]
    done = subprocess.run([sys.executable, "-c", program, *args], capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr
    own, worker = map(int, done.stdout.strip().splitlines()[-1].split())
    return (own + jobs * worker) / 1024


def test_confidence_on_a_store_of_heavy_outputs_stays_under_the_budget(tmp_path):
    """Outputs of 100 kB per row, ~1.2 GiB in memory (~1.8 GiB at the whole-store read's peak): confidence
    reads no output text (measured: 228 MiB; 210 MiB without confidence)."""
    final_store(tmp_path / "results", models=12, items=1050, output_bytes=100_000)
    peak = peak_of_score(tmp_path / "results", tmp_path / "report")
    assert peak < BUDGET_MIB, f"score peaked at {peak:.0f} MiB (budget {BUDGET_MIB})"
    conf = (tmp_path / "report" / "confidence.csv").read_text()
    assert "gsm8k" in conf


@pytest.mark.slow
def test_confidence_on_many_rows_stays_under_the_budget(tmp_path):
    """600,000 rows, 200 models x 3,000 items: the bootstrap's cells, reduced one (task, model) at a time, stay
    under the budget (measured: 302 MiB; 244 MiB without confidence; the whole-store frame of the bootstrap's
    columns it replaced peaked at 583 MiB); the task scores come from two worker processes (680 MiB in all,
    counting each worker at the larger one's peak)."""
    final_store(tmp_path / "results", models=200, items=3000, output_bytes=200, rows_per_shard=500)
    peak = peak_of_score(tmp_path / "results", tmp_path / "report", jobs=2)  # scored in two worker processes
    budget = BUDGET_MIB + 2 * WORKER_MIB
    assert peak < budget, f"score and its two workers peaked at {peak:.0f} MiB (budget {budget})"
