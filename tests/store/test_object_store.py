"""An s3:// results root against a real S3-protocol server on localhost (moto_server): every write creates a
new object (no manifest rewrite), resume, score, verify and `compact` work on it."""

from __future__ import annotations

import pandas as pd
import pyarrow.fs as pafs
import pytest
from _damage import rows, shard
from _s3 import moto_server, root_uri

from evalfleet import cli
from evalfleet.commands.verify import check_files
from evalfleet.score_jobs import store_task_scores
from evalfleet.scoring.task_scores import SCORING_COLUMNS, grouped_task_scores
from evalfleet.spec.taskspec import load_task
from evalfleet.store.results import ResultStore
from evalfleet.types import ModelRef


@pytest.fixture(scope="module")
def s3_endpoint():
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def root(s3_endpoint, monkeypatch, request) -> str:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    return root_uri(s3_endpoint, f"b{abs(hash(request.node.name)) % 10**8}", "results")


def fill(root: str, n: int = 6) -> ResultStore:
    store = ResultStore(root)
    store.save_run_config({"edition": "edge-llm-2024", "track": "compression", "data_dir": "/nonexistent"})
    spec = load_task("gsm8k")
    for i in range(n):
        model = ModelRef(team=f"T{i % 2}", family=("phi-2", "llama-3-8b", "qwen2-7b")[i % 3], path="/ckpt")
        s = shard(f"fp{i}", index=i // 6, n=4, spec=spec, model=model)  # fp{i} and fp{i+6}: one model
        store.write_shard(s, rows(s, chars=50), 1.0)
    return store


def test_writes_create_objects_and_resume_scores_and_compacts(root, tmp_path):
    store = fill(root)
    assert not store.appends and store.read_text("manifest.jsonl") is None  # never rewritten per shard
    assert len(store._manifest_objects()) == 6
    again = ResultStore(root)
    assert again.stored_ok([f"fp{i}" for i in range(7)]) == {f"fp{i}" for i in range(6)}
    assert cli.main(["score", root, "--out", str(tmp_path / "report"), "--no-confidence"]) == 0
    assert (tmp_path / "report" / "leaderboard.md").is_file()
    assert cli.main(["compact", root]) == 0
    folded = ResultStore(root)
    assert folded._manifest_objects() == {} and len(folded.read_text("manifest.jsonl").splitlines()) == 6
    assert all(folded.has(f"fp{i}") for i in range(6))
    assert len(folded.read_records()) == 24


def test_compaction_on_an_object_store_root(root):
    store = fill(root, n=12)
    before = store.read_records().sort_values(["model", "shard", "item_id"]).reset_index(drop=True)
    assert cli.main(["compact", root]) == 0
    compacted = ResultStore(root)
    fs, base = compacted.fs, compacted.base
    listing = fs.get_file_info(pafs.FileSelector(base, recursive=True))
    files = sorted(i.path[len(base) + 1 :] for i in listing if i.path.endswith(".parquet"))
    assert len(files) == 6 and all(f.startswith("compact/") for f in files)  # 12 shard objects -> 6
    assert compacted._manifest_objects() == {}
    assert compacted.stored_ok([f"fp{i}" for i in range(12)]) == {f"fp{i}" for i in range(12)}
    after = compacted.read_records().sort_values(["model", "shard", "item_id"]).reset_index(drop=True)
    assert after.drop(columns=["metrics"]).equals(before.drop(columns=["metrics"]))
    assert list(after["metrics"]) == list(before["metrics"])
    assert check_files(ResultStore(root, lenient_manifest=True)) == []


def test_verify_reads_an_object_store_root(root, capsys, shared_data):
    store = fill(root, n=3)
    assert check_files(ResultStore(root, lenient_manifest=True)) == []
    rc = cli.main(["verify", root, "--data-dir", str(shared_data)])
    out = capsys.readouterr().out
    assert "verified 3 shards" in out and "0 file problems" in out, out
    assert rc == 1  # the toy rows' outputs do not extract to their recorded answers: differences, not errors
    assert len(store.read_records()) == 12


def test_the_run_log_is_written_in_segments_never_rewritten(root):
    from evalfleet.explore.runlog import latest_progress, run_logs

    store = ResultStore(root)
    store.log({"event": "start", "shards": 300, "to_run": 200})
    for i in range(150):
        store.log({"event": "shard_done", "fingerprint": f"fp{i}"})
    store.log({"event": "shard_failed", "fingerprint": "fp199"})
    segments = store.path("runs", f"{store.run_id}.d")
    listed = lambda: store.fs.get_file_info(pafs.FileSelector(segments))  # noqa: E731
    assert len(listed()) == 1  # the start; the rest waits for LOG_FLUSH_S or the end
    store.log({"event": "end"})
    assert len(listed()) == 2 and store.read_text(f"runs/{store.run_id}.jsonl") is None
    reader = ResultStore(root)
    assert run_logs(reader) == [f"{store.run_id}.jsonl"]
    progress = latest_progress(reader)
    assert (progress.shards, progress.to_run, progress.done, progress.failed) == (300, 200, 150, 1)
    assert progress.ended is not None and progress.left == 49


def test_score_workers_read_an_object_store_root(root):
    store = fill(root, n=12)
    one = grouped_task_scores(store.record_groups(SCORING_COLUMNS))
    workers = store_task_scores(ResultStore(root), jobs=2, min_rows=0)  # each worker opens the s3:// root itself
    pd.testing.assert_frame_equal(workers, one)
    assert len(one) == 6 and set(one["task"]) == {"gsm8k"}  # 6 models, one headline each
