"""store: Parquet shards under their fingerprint, manifest, run log, run config; resume reads them back."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from evalfleet.errors import EvalfleetError
from evalfleet.spec.taskspec import parse_task
from evalfleet.store.results import RECORD_SCHEMA, ResultStore
from evalfleet.types import ModelRef, Shard

SPEC = parse_task({"name": "toy", "module": "gsm8k", "metric": "accuracy"}, name="toy", variant="default")
MODEL = ModelRef(team="t", family="llama", path="/m")


def shard(fp: str, index: int = 0) -> Shard:
    return Shard(task=SPEC, model=MODEL, index=index, item_ids=("0", "1"), fingerprint=fp)


def table(fp: str, error: str | None = None) -> pa.Table:
    rows = [
        {
            "shard": fp,
            "task": "toy",
            "model": MODEL.id,
            "team": "t",
            "family": "llama",
            "role": "submission",
            "item_id": str(i),
            "sample": 0,
            "output": f"out {i}",
            "extracted": str(i),
            "score": float(i),
            "metrics": json.dumps({"accuracy": float(i)}),
            "error": error if i else None,
            "logliks": [-1.0, -2.0],
        }
        for i in range(2)
    ]
    return pa.Table.from_pylist(rows, schema=RECORD_SCHEMA)


def test_write_then_resume_from_a_fresh_store(tmp_path):
    store = ResultStore(str(tmp_path))
    assert not store.has("abc")
    entry = store.write_shard(shard("abc"), table("abc", error="boom"), 1.5)
    assert entry["n_rows"] == 2 and entry["n_errors"] == 1
    path = tmp_path / "shards" / "toy" / "t--llama" / "abc.parquet"
    assert pq.read_table(path).schema == RECORD_SCHEMA
    assert not list(path.parent.glob("*.tmp-*"))
    again = ResultStore(str(tmp_path))
    assert again.has("abc") and not again.has("abd")
    records = again.read_records()
    assert list(records["output"]) == ["out 0", "out 1"]
    assert records["metrics"][1] == {"accuracy": 1.0} and records["logliks"][0] == [-1.0, -2.0]
    assert list(records["error"].isna()) == [True, False]


def test_missing_file_is_not_stored_and_rewrite_keeps_one_entry(tmp_path):
    store = ResultStore(str(tmp_path))
    store.write_shard(shard("abc"), table("abc"), 1.0)
    store.write_shard(shard("abc"), table("abc"), 2.0)
    assert len(store.manifest()) == 1 and len(ResultStore(str(tmp_path)).read_records()) == 2
    (tmp_path / "shards" / "toy" / "t--llama" / "abc.parquet").unlink()
    assert not ResultStore(str(tmp_path)).has("abc")


def test_read_records_filters_tasks_and_empty_store(tmp_path):
    store = ResultStore(str(tmp_path))
    assert store.read_records().empty
    store.write_shard(shard("abc"), table("abc"), 1.0)
    assert store.read_records(tasks=["other"]).empty and len(store.read_records(tasks=["toy"])) == 2


def test_run_config_and_log(tmp_path):
    store = ResultStore(str(tmp_path))
    with pytest.raises(EvalfleetError, match="run.yaml"):
        store.load_run_config()
    store.save_run_config({"edition": "edge-llm-2024", "track": "compression", "tasks": ("gsm8k",)})
    assert ResultStore(str(tmp_path)).load_run_config()["tasks"] == ["gsm8k"]
    store.log({"event": "start"})
    store.log({"event": "end"})
    lines = (tmp_path / "runs" / f"{store.run_id}.jsonl").read_text().splitlines()
    assert [json.loads(x)["event"] for x in lines] == ["start", "end"]


def test_object_store_uri_works_through_pyarrow_filesystems(tmp_path):
    store = ResultStore(f"file://{tmp_path}/remote")
    store.write_shard(shard("abc"), table("abc"), 1.0)
    assert ResultStore(f"file://{tmp_path}/remote").has("abc")
    assert (tmp_path / "remote" / "manifest.jsonl").is_file()


def test_malformed_manifest_line_names_the_file_and_line(tmp_path):
    line = json.dumps({"fingerprint": "a", "path": "p", "task": "t", "model": "m"})
    (tmp_path / "manifest.jsonl").write_text(f"{{not json\n{line}\n")
    with pytest.raises(EvalfleetError, match=r"manifest.jsonl: line 1: malformed manifest line.*evalfleet repair"):
        ResultStore(str(tmp_path)).has("x")


def test_parsed_metrics_equal_json_loads_per_row_and_are_never_shared():
    import json

    from evalfleet.store.records import parsed_metrics

    texts = [json.dumps({"accuracy": float(i % 2)}) for i in range(50)] + [None, "", '{"f1": 0.5, "em": 0}']
    column = pa.chunked_array([pa.array(texts[:20]), pa.array(texts[20:])])
    parsed = parsed_metrics(column)
    assert parsed == [json.loads(t) if t else {} for t in texts]
    parsed[0]["accuracy"] = 7.0  # a caller changing one row's dict changes no other row
    assert parsed[2] == {"accuracy": 0.0}
    distinct = pa.chunked_array([pa.array([json.dumps({"f1": i / 7}) for i in range(30)])])
    assert parsed_metrics(distinct) == [{"f1": i / 7} for i in range(30)]
