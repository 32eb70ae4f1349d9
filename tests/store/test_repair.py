"""`evalfleet repair RESULTS`: the manifest rebuilt from the shard files themselves, nothing lost, nothing deleted."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from _damage import file_of, filled, flip_data_page, rows, shard, truncate

from evalfleet import cli
from evalfleet.commands.verify import check_files
from evalfleet.errors import EvalfleetError
from evalfleet.spec.taskspec import parse_task
from evalfleet.store.repair import repair
from evalfleet.store.results import ResultStore
from evalfleet.types import Fingerprints, ModelRef

MANIFEST = "manifest.jsonl"


def records(root: Path) -> list[dict]:
    frame = ResultStore(str(root)).read_records()
    return frame[["shard", "item_id", "output", "error"]].astype(object).to_dict("records")


def entries(root: Path) -> list[dict]:
    return [json.loads(x) for x in (root / MANIFEST).read_text().splitlines()]


def test_a_manifest_damaged_in_the_middle_is_rebuilt_with_every_record(tmp_path, capsys):
    store, _ = filled(tmp_path, n=4)
    store.save_run_config({"edition": "edge-llm-2024", "track": "compression"})
    before_entries, before_records = entries(tmp_path), records(tmp_path)
    damaged = (tmp_path / MANIFEST).read_text().replace('"fingerprint": "fp1"', '"fingerprint": fp1"')
    (tmp_path / MANIFEST).write_text(damaged)
    assert cli.main(["score", str(tmp_path)]) == 2
    assert "line 2: malformed manifest line" in capsys.readouterr().err
    assert cli.main(["repair", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "malformed manifest line: line 2" in out and "manifest rebuilt: 4 shards (the old one listed 3)" in out
    assert entries(tmp_path) == before_entries  # every field, from the files' own metadata
    assert records(tmp_path) == before_records
    kept = list((tmp_path / "quarantine").glob("manifest.*.jsonl"))
    assert len(kept) == 1 and kept[0].read_text() == damaged  # kept aside, not deleted
    assert ResultStore(str(tmp_path)).has("fp1")


def test_orphans_are_adopted_damaged_files_and_temporaries_quarantined(tmp_path):
    store, shards = filled(tmp_path, n=5)
    lines = (tmp_path / MANIFEST).read_text().splitlines()
    (tmp_path / MANIFEST).write_text("\n".join(lines[:3]) + "\n" + lines[3][:25])  # fp3 torn, fp4 never listed
    truncate(file_of(tmp_path, "fp0"))
    flip_data_page(file_of(tmp_path, "fp2"))  # only a full read sees this one
    temp = file_of(tmp_path, "fp1").with_name("fp1.parquet.tmp-0123abcd")
    temp.write_bytes(b"PAR1 half a file")
    report = repair(ResultStore(str(tmp_path)))
    assert report.adopted == ("shards/toy/t--llama/fp3.parquet", "shards/toy/t--llama/fp4.parquet")
    assert sorted(p.fingerprint for p in report.quarantined) == ["fp0", "fp2"]
    assert sorted(p.fingerprint for p in report.dropped) == ["fp0", "fp2"]
    assert report.bad_lines == (4,) and report.temporaries == ("shards/toy/t--llama/fp1.parquet.tmp-0123abcd",)
    assert [e["fingerprint"] for e in entries(tmp_path)] == ["fp1", "fp3", "fp4"]
    aside = sorted(p.name.split(".")[0] for p in (tmp_path / "quarantine" / "shards").rglob("*") if p.is_file())
    assert aside == ["fp0", "fp1", "fp2"] and not temp.exists()
    fresh = ResultStore(str(tmp_path))
    assert [fresh.has(f"fp{i}") for i in range(5)] == [False, True, False, True, True]
    assert sorted({r["shard"] for r in records(tmp_path)}) == ["fp1", "fp3", "fp4"]
    for s in (shards[0], shards[2]):  # what the next run does
        fresh.write_shard(s, rows(s), 1.0)
    assert len(records(tmp_path)) == 15


def test_files_without_identity_metadata_get_it_from_path_rows_and_old_lines(tmp_path):
    raw = {"name": "toy", "module": "gsm8k", "metric": "accuracy", "variants": {"ppl": {}}}
    variant = parse_task(raw, name="toy", variant="ppl")
    model = ModelRef(team="u", family="qwen2", path="/q")
    store = ResultStore(str(tmp_path))
    old = [shard(f"old{i}", index=i, spec=variant, model=model) for i in (2, 0, 1)]
    for s in old:  # as an older evalfleet wrote them: no identity, no checksums, no size in the manifest
        path = tmp_path / store.shard_path(s)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(rows(s), path)
    listed = {"fingerprint": "old1", "task": variant.id, "model": model.id, "index": 1, "seconds": 7.5}
    (tmp_path / MANIFEST).write_text(json.dumps({**listed, "path": store.shard_path(old[2]), "n_rows": 3}) + "\n")
    report = repair(store)
    assert len(report.from_layout) == 3 and report.adopted == (
        "shards/toy@ppl/u--qwen2/old0.parquet",
        "shards/toy@ppl/u--qwen2/old2.parquet",
    )
    got = {e["fingerprint"]: e for e in entries(tmp_path)}
    assert {fp: (e["task"], e["model"], e["index"]) for fp, e in got.items()} == {
        f"old{i}": ("toy:ppl", "u--qwen2", i) for i in range(3)
    }
    assert got["old1"]["seconds"] == 7.5 and got["old0"]["n_errors"] == 1 and got["old2"]["n_rows"] == 3
    assert all(ResultStore(str(tmp_path)).has(f"old{i}") for i in range(3)) and len(records(tmp_path)) == 9


def test_dry_run_changes_nothing(tmp_path, capsys):
    filled(tmp_path, n=2)
    truncate(file_of(tmp_path, "fp1"))
    (tmp_path / MANIFEST).write_text("garbage\n" + (tmp_path / MANIFEST).read_text())
    snapshot = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert cli.main(["repair", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "quarantined (damaged): toy t--llama #1" in out and "would list 1 shards" in out
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == snapshot


def test_nothing_to_repair_is_a_clear_error(tmp_path):
    with pytest.raises(EvalfleetError, match="nothing to repair"):
        repair(ResultStore(str(tmp_path / "empty")))


def test_a_rescored_shard_keeps_its_source_file_and_repair_lists_the_rescored_one(tmp_path):
    store = ResultStore(str(tmp_path))
    first = replace(shard("fp0"), fingerprints=Fingerprints("fp0", "a" * 64, {"model": "m"}, {"code": "c1"}))
    source = store.write_shard(first, rows(first), 1.0)
    assert source["scoring_fingerprint"] == "a" * 64 and store.payloads(source)["scoring"] == {"code": "c1"}
    again = replace(first, fingerprints=Fingerprints("fp0", "b" * 64, {"model": "m"}, {"code": "c2"}))
    rescored = store.write_shard(again, rows(again, seed=1), 0.5, rescored_from=source["path"])
    assert rescored["path"] == "shards/toy/t--llama/fp0.bbbbbbbbbbbbbbbb.parquet"
    assert rescored["rescored_from"] == source["path"] and (tmp_path / source["path"]).is_file()
    fresh = ResultStore(str(tmp_path))
    assert fresh.entry("fp0") == rescored and fresh.has("fp0") and check_files(fresh) == []
    outputs = list(fresh.read_records()["output"])
    assert fresh.read_shard(source["path"]).column("output").to_pylist() == rows(first).column("output").to_pylist()
    assert fresh.read_shard(rescored["path"]).column("output").to_pylist() == outputs
    (tmp_path / MANIFEST).write_text("{torn")
    report = repair(ResultStore(str(tmp_path)))
    assert report.listed == 1 and entries(tmp_path) == [rescored]
    assert list(ResultStore(str(tmp_path)).read_records()["output"]) == outputs
