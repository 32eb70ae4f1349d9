"""verify: recorded outputs re-scored with the current modules (GSM8K official answer key), manifest vs files."""
from __future__ import annotations

import argparse
import json

import pyarrow as pa

from evalfleet.commands import verify
from evalfleet.store import RECORD_SCHEMA, ResultStore
from evalfleet.taskspec import load_task
from evalfleet.types import ModelRef, Shard

MODEL = ModelRef(team="t", family="llama", path="/m")


def record(item_id: str, output: str, extracted: str, score: float) -> dict:
    return {"shard": "fp0", "task": "gsm8k", "model": MODEL.id, "team": "t", "family": "llama", "role": "submission",
            "item_id": item_id, "sample": 0, "output": output, "extracted": extracted, "score": score,
            "metrics": json.dumps({"accuracy": score})}


def write(tmp_path, shared_data, rows) -> ResultStore:
    store = ResultStore(str(tmp_path))
    store.save_run_config({"edition": "edge-llm-2024", "track": "compression", "data_dir": str(shared_data)})
    shard = Shard(task=load_task("gsm8k"), model=MODEL, index=0, item_ids=("0000", "0001"), fingerprint="fp0")
    store.write_shard(shard, pa.Table.from_pylist(rows, schema=RECORD_SCHEMA), 1.0)
    return store


def run(path, capsys) -> tuple[int, str]:
    status = verify.main(argparse.Namespace(results=str(path), data_dir=None, code=False, max_report=20))
    return status, capsys.readouterr().out


def test_consistent_records_verify(tmp_path, shared_data, capsys):
    # Official answers: item 0000 (Janet's ducks) is 18, item 0001 (robe bolts) is 3.
    write(tmp_path, shared_data, [record("0000", "She makes 9 * 2 = 18 dollars. The answer is 18", "18", 1.0),
                                  record("0001", "It takes 2 + 1 = 4 bolts", "4", 0.0)])
    status, out = run(tmp_path, capsys)
    assert status == 0 and "2 rows re-scored: 0 file problems, 0 differences" in out


def test_tampered_score_and_missing_file_are_reported(tmp_path, shared_data, capsys):
    store = write(tmp_path, shared_data, [record("0000", "The answer is 18", "18", 1.0), record("0001", "so 4", "4", 1.0)])
    status, out = run(tmp_path, capsys)
    assert status == 1 and "gsm8k t--llama item 0001 sample 0: score 1.0 recorded, 0.0 now" in out
    (tmp_path / store.manifest()[0]["path"]).unlink()
    status, out = run(tmp_path, capsys)
    assert status == 1 and "listed in the manifest but unreadable" in out
