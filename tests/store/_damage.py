"""Real damage to real files, and small real shards to damage: helpers of the store fault tests."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from evalfleet.spec.taskspec import parse_task
from evalfleet.store.results import RECORD_SCHEMA, ResultStore
from evalfleet.types import ModelRef, Shard

SPEC = parse_task({"name": "toy", "module": "gsm8k", "metric": "accuracy"}, name="toy", variant="default")
MODEL = ModelRef(team="t", family="llama", path="/m")


def shard(fp: str, index: int = 0, n: int = 3, spec=SPEC, model=MODEL) -> Shard:
    ids = tuple(f"{index * n + i:04d}" for i in range(n))
    return Shard(task=spec, model=model, index=index, item_ids=ids, fingerprint=fp)


def rows(s: Shard, *, chars: int = 2000, seed: int = 0) -> pa.Table:
    """One row per item of `s`; outputs of `chars` random letters (incompressible: the data pages are large)."""
    rng = random.Random(f"{s.fingerprint}-{seed}")
    records = [
        {
            "shard": s.fingerprint,
            "task": s.task.id,
            "model": s.model.id,
            "team": s.model.team,
            "family": s.model.family,
            "role": "submission",
            "item_id": item,
            "sample": 0,
            "output": "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(chars)),
            "extracted": "1",
            "score": float(i % 2),
            "metrics": json.dumps({"accuracy": float(i % 2)}),
            "error": "boom" if i == 1 else None,
        }
        for i, item in enumerate(s.item_ids)
    ]
    return pa.Table.from_pylist(records, schema=RECORD_SCHEMA)


def filled(root: Path, n: int = 3, **kw) -> tuple[ResultStore, list[Shard]]:
    """A store at `root` holding shards fp0..fp{n-1} (index 0..n-1)."""
    store = ResultStore(str(root))
    shards = [shard(f"fp{i}", index=i) for i in range(n)]
    for s in shards:
        store.write_shard(s, rows(s, **kw), 1.0 + s.index)
    return store, shards


def file_of(root: Path, fp: str) -> Path:
    return next(Path(root, "shards").rglob(f"{fp}.parquet"))


def truncate(path: Path, n: int = 100) -> None:
    """Cut the last `n` bytes (a copy or a write that stopped early)."""
    data = path.read_bytes()
    path.write_bytes(data[:-n])


def flip_data_page(path: Path, column: str = "output") -> int:
    """Flip one byte in the middle of the values of `column` (its dictionary page, where pyarrow puts the
    distinct strings; the data page after it holds indices and, in its header, min/max statistics that no
    read uses and no checksum covers). Returns the offset."""
    meta = pq.read_metadata(path).row_group(0)
    chunk = next(meta.column(i) for i in range(meta.num_columns) if meta.column(i).path_in_schema == column)
    assert chunk.has_dictionary_page, "the helper expects a dictionary-encoded column"
    offset = chunk.dictionary_page_offset + (chunk.data_page_offset - chunk.dictionary_page_offset) // 2
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    return offset


def damage_footer(path: Path) -> None:
    """Overwrite the start of the Thrift footer with 0xFF bytes; the size stays the same."""
    data = bytearray(path.read_bytes())
    length = int.from_bytes(data[-8:-4], "little")
    start = len(data) - 8 - length
    data[start : start + 16] = b"\xff" * 16
    path.write_bytes(bytes(data))
