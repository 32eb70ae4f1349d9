"""`evalfleet compact`: a (task, model)'s shard files folded into one file, one row group per shard. Reads, resume
(`has`), verify, repair and scoring see the same rows before and after; new shards after a compaction are
folded in by the next; a damaged shard is left as it was; an interrupted compaction (an error at each step,
and real SIGKILLs at random moments) loses nothing and the next compaction finishes the job."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from _damage import MODEL, file_of, flip_data_page, rows, shard

from evalfleet import cli
from evalfleet.commands.verify import check_files
from evalfleet.spec.taskspec import parse_task
from evalfleet.store import compaction
from evalfleet.store.compactfile import COMPACTED_KEY
from evalfleet.store.repair import repair
from evalfleet.store.results import DamagedShardsError, ResultStore
from evalfleet.types import ModelRef

TASKS = [parse_task({"name": n, "module": "gsm8k", "metric": "accuracy"}, name=n, variant="default") for n in "ab"]
MODELS = [MODEL, ModelRef(team="u", family="qwen", path="/m2")]
PER_GROUP = 4
COLUMNS = ["shard", "task", "model", "item_id", "sample", "output", "score", "metrics", "error"]


def fill(root: Path, first: int = 0, n: int = PER_GROUP) -> ResultStore:
    """Shards first..first+n-1 of every (task, model): fingerprints name them, 3 rows each."""
    store = ResultStore(str(root))
    for spec in TASKS:
        for m, model in enumerate(MODELS):
            for i in range(first, first + n):
                s = shard(f"{spec.id}-{m}-{i}", index=i, spec=spec, model=model)
                store.write_shard(s, rows(s, chars=300), 1.0)
    return store


def records(root: Path):
    frame = ResultStore(str(root)).read_records()[COLUMNS]
    frame["metrics"] = frame["metrics"].map(repr)
    return frame.sort_values(["task", "model", "item_id"]).reset_index(drop=True)


def parquet_files(root: Path, folder: str) -> list[Path]:
    return sorted(Path(root, folder).rglob("*.parquet")) if Path(root, folder).exists() else []


def test_compaction_folds_each_group_into_one_file_and_every_read_sees_the_same_rows(tmp_path):
    store = fill(tmp_path)
    before = records(tmp_path)
    shard_tables = {e["fingerprint"]: store.read_shard(e) for e in store.manifest()}
    assert len(parquet_files(tmp_path, "shards")) == 16

    assert cli.main(["compact", str(tmp_path)]) == 0
    assert parquet_files(tmp_path, "shards") == []
    files = parquet_files(tmp_path, "compact")
    assert len(files) == 4  # (2 tasks x 2 models)
    for path in files:
        meta = pq.read_metadata(path)
        assert meta.num_row_groups == PER_GROUP and COMPACTED_KEY in meta.metadata

    again = ResultStore(str(tmp_path))
    assert records(tmp_path).equals(before)
    assert again.stored_ok(shard_tables) == set(shard_tables)  # a resume skips every shard
    for entry in again.manifest():
        assert "row_group" in entry and entry["path"].startswith("compact/")
        assert again.read_shard(entry).equals(shard_tables[entry["fingerprint"]])
    assert check_files(again) == []
    grouped = {key: t.num_rows for key, t in again.iter_groups(["score"])}
    assert grouped == {(t.id, m.id): 3 * PER_GROUP for t in TASKS for m in MODELS}


def test_new_shards_after_a_compaction_are_folded_in_by_the_next(tmp_path):
    fill(tmp_path)
    assert cli.main(["compact", str(tmp_path)]) == 0
    first = set(parquet_files(tmp_path, "compact"))
    fill(tmp_path, first=PER_GROUP, n=2)  # a later run adds shards
    store = ResultStore(str(tmp_path))
    assert len(store.manifest()) == 4 * (PER_GROUP + 2) and len(parquet_files(tmp_path, "shards")) == 8
    before = records(tmp_path)
    report = compaction.compact(store)
    assert (report.groups, report.shards, report.files_after) == (4, 4 * (PER_GROUP + 2), 4)
    assert report.deleted == 4 + 8  # the first compacted files and the new shard files
    assert not set(parquet_files(tmp_path, "compact")) & first and parquet_files(tmp_path, "shards") == []
    assert records(tmp_path).equals(before)
    assert compaction.compact(ResultStore(str(tmp_path))).groups == 0  # nothing left to fold


def test_a_damaged_shard_is_left_as_it_was_and_named(tmp_path, capsys):
    fill(tmp_path)
    flip_data_page(file_of(tmp_path, "a-0-1"))
    assert cli.main(["compact", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "a-0-1" in out and "page checksum failed" in out
    store = ResultStore(str(tmp_path))
    damaged = store.entry("a-0-1")
    [(_, reason)] = store.read_each([damaged])
    assert damaged["path"].startswith("shards/") and "checksum" in reason
    assert store.entry("a-0-0")["path"].startswith("compact/") and store.has("a-0-0")
    assert len(parquet_files(tmp_path, "shards")) == 1


def test_a_damaged_compacted_file_is_named_shard_by_shard_and_repair_keeps_the_intact_row_groups(tmp_path):
    fill(tmp_path)
    compaction.compact(ResultStore(str(tmp_path)))
    store = ResultStore(str(tmp_path))
    entry = store.entry("b-1-2")
    path = tmp_path / entry["path"]
    meta = pq.read_metadata(path).row_group(entry["row_group"])
    chunk = next(meta.column(i) for i in range(meta.num_columns) if meta.column(i).path_in_schema == "output")
    data = bytearray(path.read_bytes())
    data[chunk.dictionary_page_offset + 40] ^= 0xFF  # inside row group 2's output values
    path.write_bytes(bytes(data))

    with pytest.raises(DamagedShardsError) as caught:
        ResultStore(str(tmp_path)).read_table()
    assert [p.fingerprint for p in caught.value.problems] == ["b-1-2"]
    named = [line for line in check_files(ResultStore(str(tmp_path))) if "checksum" in line]
    assert len(named) == 1 and named[0].startswith("b u--qwen #2")
    report = repair(ResultStore(str(tmp_path)))
    assert [p.fingerprint for p in report.quarantined] == ["b-1-2"]
    fixed = ResultStore(str(tmp_path))
    assert fixed.entry("b-1-2") is None and len(fixed.manifest()) == 4 * PER_GROUP - 1
    assert fixed.has("b-1-0") and fixed.entry("b-1-0")["row_group"] == 0


def test_repair_rebuilds_a_lost_manifest_from_compacted_files(tmp_path):
    fill(tmp_path)
    compaction.compact(ResultStore(str(tmp_path)))
    before = records(tmp_path)
    expected = {e["fingerprint"]: e for e in ResultStore(str(tmp_path)).manifest()}
    (tmp_path / "manifest.jsonl").unlink()
    report = repair(ResultStore(str(tmp_path)))
    assert report.listed == 4 * PER_GROUP and not report.quarantined
    rebuilt = {e["fingerprint"]: e for e in ResultStore(str(tmp_path)).manifest()}
    assert rebuilt == expected
    assert records(tmp_path).equals(before)


@pytest.mark.parametrize("step", ["rewrite_manifest", "delete"])
def test_an_error_at_each_step_loses_nothing_and_the_next_compaction_finishes(tmp_path, monkeypatch, step):
    fill(tmp_path)
    before = records(tmp_path)

    def fail(*args, **kwargs):
        raise OSError(f"injected failure at {step}")

    if step == "delete":  # the manifest names the compacted files; the shard files are still there
        real = compaction._delete
        monkeypatch.setattr(compaction, "_delete", lambda store, rels: fail() if rels else real(store, rels))
    else:  # compacted files written; the manifest still names the shard files
        monkeypatch.setattr(ResultStore, "rewrite_manifest", fail)
    with pytest.raises(OSError, match="injected"):
        compaction.compact(ResultStore(str(tmp_path)))
    assert records(tmp_path).equals(before)
    interrupted = ResultStore(str(tmp_path))
    assert all(interrupted.has(e["fingerprint"]) for e in interrupted.manifest())
    monkeypatch.undo()

    compaction.compact(ResultStore(str(tmp_path)))
    assert records(tmp_path).equals(before)
    assert parquet_files(tmp_path, "shards") == [] and len(parquet_files(tmp_path, "compact")) == 4
    assert check_files(ResultStore(str(tmp_path))) == []


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing(tmp_path):
    """A real `evalfleet compact` process killed at random moments, over and over; then one run to the end."""
    root = tmp_path / "r"
    for first in range(0, 24, 6):  # 4 x 6 shards per group, 96 files
        fill(root, first=first, n=6)
    before = records(root)
    rng = random.Random(20261201)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "evalfleet", "compact", str(root)]
    t0 = time.time()
    subprocess.run(command, env=env, check=True, capture_output=True, cwd=tmp_path)
    whole = time.time() - t0
    (root / "lease.json").unlink(missing_ok=True)
    mid_way = 0
    for n in range(8):
        fill(root, first=100 + n, n=1)  # new shard files each round, so every compaction has work
        named_before = {e["path"] for e in ResultStore(str(root)).manifest()}
        proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, whole))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        (root / "lease.json").unlink(missing_ok=True)  # the killed process's lease (its pid is gone anyway)
        now = ResultStore(str(root))
        assert all(now.has(e["fingerprint"]) for e in now.manifest())
        assert len(now.manifest()) == 4 * (24 + n + 1)
        named = {e["path"] for e in now.manifest()}
        on_disk = {str(p.relative_to(root)) for p in parquet_files(root, "shards") + parquet_files(root, "compact")}
        mid_way += bool(on_disk - named) or named != named_before  # leftovers, or the manifest was rewritten
    assert mid_way >= 2, f"only {mid_way} of 8 kills landed inside a compaction"
    assert subprocess.run(command, env=env, cwd=tmp_path, capture_output=True).returncode == 0
    after = records(root)
    assert len(after) == len(before) + 4 * 8 * 3
    assert after[after["shard"].isin(set(before["shard"]))].reset_index(drop=True).equals(before)
    assert check_files(ResultStore(str(root))) == []
    assert parquet_files(root, "shards") == [] and len(parquet_files(root, "compact")) == 4
