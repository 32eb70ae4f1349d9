"""Small gsm8k results stores for the verify tests (one process, worker processes, Ray tasks): consistent
rows, tampered scores, damaged and missing files; and `verify.main`'s arguments."""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

import pyarrow as pa
from store._damage import flip_data_page, truncate

from evalfleet.spec.taskspec import load_task
from evalfleet.store.results import RECORD_SCHEMA, ResultStore
from evalfleet.types import ModelRef, Shard

MODEL = ModelRef(team="t", family="llama", path="/m")
OTHER = ModelRef(team="u", family="llama", path="/m2")


def record(item_id: str, output: str, extracted: str, score: float) -> dict:
    return {
        "shard": "fp0",
        "task": "gsm8k",
        "model": MODEL.id,
        "team": "t",
        "family": "llama",
        "role": "submission",
        "item_id": item_id,
        "sample": 0,
        "output": output,
        "extracted": extracted,
        "score": score,
        "metrics": json.dumps({"accuracy": score}),
    }


def new_store(root: Path | str, shared_data) -> ResultStore:
    """An empty store at `root` (a local path or an s3:// URI) whose run.yaml names the official data."""
    store = ResultStore(str(root))
    store.save_run_config({"edition": "edge-llm-2024", "track": "compression", "data_dir": str(shared_data)})
    return store


def write_rows(store: ResultStore, rows: list[dict], *, model: ModelRef = MODEL, index: int = 0) -> None:
    """`rows` recorded as shard `index` of `model` (fingerprint: the rows' `shard`) over items 0000, 0001."""
    ids = ("0000", "0001")
    shard = Shard(task=load_task("gsm8k"), model=model, index=index, item_ids=ids, fingerprint=rows[0]["shard"])
    store.write_shard(shard, pa.Table.from_pylist(rows, schema=RECORD_SCHEMA), 1.0)


def write(tmp_path, shared_data, rows) -> ResultStore:
    store = new_store(tmp_path, shared_data)
    write_rows(store, rows)
    return store


def write_shards(root, shared_data, n: int) -> ResultStore:
    """`n` consistent gsm8k shards fp0..fp{n-1} (long outputs: the data pages are large)."""
    store = new_store(root, shared_data)
    rng = random.Random(0)
    for i in range(n):
        noise = "".join(rng.choice("abcdefghij ") for _ in range(3000))
        rows = [
            {**record("0000", f"{noise} The answer is 18", "18", 1.0), "shard": f"fp{i}"},
            {**record("0001", f"{noise} so 4", "4", 0.0), "shard": f"fp{i}"},
        ]
        write_rows(store, rows, index=i)
    return store


def write_tampered(store: ResultStore, n: int = 2) -> None:
    """`n` shards gp0.. of a second model (OTHER), each with item 0001's score tampered (1.0 recorded, 0.0 right)."""
    for i in range(n):
        rows = [
            {**record("0000", "The answer is 18", "18", 1.0), "shard": f"gp{i}", "model": OTHER.id},
            {**record("0001", "so 4", "4", 1.0), "shard": f"gp{i}", "model": OTHER.id},
        ]
        write_rows(store, rows, model=OTHER, index=i)


def write_raising(store: ResultStore) -> None:
    """A shard gp0 of OTHER whose item 0000 has no output and no error: gsm8k's extractor raises on it."""
    rows = [
        {**record("0000", None, "18", 1.0), "shard": "gp0", "model": OTHER.id},
        {**record("0001", "so 4", "4", 0.0), "shard": "gp0", "model": OTHER.id},
    ]
    write_rows(store, rows, model=OTHER)


def damaged_store(root: Path, shared_data) -> ResultStore:
    """Two models' groups: MODEL's 5 shards with fp1 truncated, fp2 a flipped data page, fp3 missing;
    OTHER's 2 shards with a tampered score each."""
    store = write_shards(root, shared_data, 5)
    write_tampered(store)
    truncate(root / "shards/gsm8k/t--llama/fp1.parquet")
    flip_data_page(root / "shards/gsm8k/t--llama/fp2.parquet")
    (root / "shards/gsm8k/t--llama/fp3.parquet").unlink()
    return store


def verify_args(results, **options) -> argparse.Namespace:
    """`evalfleet verify RESULTS` with the defaults of its options, `options` replacing them."""
    defaults = {"data_dir": None, "code": False, "max_report": 20, "jobs": None, "ray": None}
    return argparse.Namespace(results=str(results), **{**defaults, **options})
