"""Store faults on real files: torn and damaged manifests, truncated / checksum-failing / foreign shard files,
a filesystem that fills up or turns read-only. No mocks: real Parquet, real bytes cut or flipped, real tmpfs."""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from _damage import MODEL, damage_footer, file_of, filled, flip_data_page, rows, shard, truncate

from evalfleet import cli
from evalfleet.errors import EvalfleetError
from evalfleet.spec.taskspec import load_task
from evalfleet.store.results import DamagedShardsError, ResultStore, StoreWriteError
from evalfleet.types import ModelRef

MANIFEST = "manifest.jsonl"


def lines(root: Path) -> list[str]:
    return (root / MANIFEST).read_text().splitlines()


def all_records(root: Path) -> list[tuple]:
    frame = ResultStore(str(root)).read_records()
    return sorted(zip(frame["shard"], frame["item_id"], frame["output"], frame["error"].fillna("")))


# ---- the manifest -------------------------------------------------------------------------------
def test_torn_last_line_is_skipped_with_a_warning_and_removed_by_the_next_write(tmp_path, caplog):
    store, shards = filled(tmp_path)
    text = (tmp_path / MANIFEST).read_text()
    (tmp_path / MANIFEST).write_text(text[: len(text) - 40])  # the third append stopped 40 bytes short
    again = ResultStore(str(tmp_path))
    assert again.has("fp0") and again.has("fp1") and not again.has("fp2")
    assert any("line 3: torn last line skipped" in m for m in again.warnings)
    assert "line 3: torn last line" in caplog.text
    assert len(again.read_records()) == 6  # the readable shards still read
    again.write_shard(shards[2], rows(shards[2]), 3.0)  # the resumed run rewrites fp2 (its intact file replaced)
    assert [json.loads(x)["fingerprint"] for x in lines(tmp_path)] == ["fp0", "fp1", "fp2"]
    assert (tmp_path / MANIFEST).read_text().endswith("}\n") and not (tmp_path / "quarantine").exists()
    fresh = ResultStore(str(tmp_path))
    assert all(fresh.has(f"fp{i}") for i in range(3)) and fresh.warnings == []


def test_last_line_without_its_newline_is_kept_and_terminated_before_the_next_append(tmp_path):
    store, shards = filled(tmp_path, n=2)
    (tmp_path / MANIFEST).write_text((tmp_path / MANIFEST).read_text()[:-1])
    again = ResultStore(str(tmp_path))
    assert again.has("fp1") and again.warnings == []
    extra = shard("fp9", index=9)
    again.write_shard(extra, rows(extra), 1.0)
    assert [json.loads(x)["fingerprint"] for x in lines(tmp_path)] == ["fp0", "fp1", "fp9"]


def test_trailing_nul_bytes_of_a_power_loss_are_dropped(tmp_path):
    store, shards = filled(tmp_path, n=2)
    with open(tmp_path / MANIFEST, "ab") as f:
        f.write(b"\x00" * 300)
    again = ResultStore(str(tmp_path))
    assert again.has("fp0") and again.has("fp1")
    extra = shard("fp9", index=9)
    again.write_shard(extra, rows(extra), 1.0)
    assert b"\x00" not in (tmp_path / MANIFEST).read_bytes() and len(lines(tmp_path)) == 3


def test_damage_before_intact_lines_names_the_line_and_points_to_repair(tmp_path):
    filled(tmp_path)
    text = lines(tmp_path)
    text[1] = text[1][:30] + "#" + text[1][31:]
    (tmp_path / MANIFEST).write_text("\n".join(text) + "\n")
    with pytest.raises(EvalfleetError, match=r"manifest.jsonl: line 2: malformed manifest line.*evalfleet repair"):
        ResultStore(str(tmp_path)).has("fp0")
    lenient = ResultStore(str(tmp_path), lenient_manifest=True)
    assert lenient.manifest_read().bad_lines == (2,)
    assert {e["fingerprint"] for e in lenient.manifest()} == {"fp0", "fp2"}


# ---- shard files: the cheap check at resume ----------------------------------------------------
def test_every_file_records_its_identity_and_checksums(tmp_path):
    store, _ = filled(tmp_path, n=1)
    meta = pq.read_metadata(file_of(tmp_path, "fp0"))
    identity = json.loads(meta.metadata[b"evalfleet.shard"])
    entry = store.manifest()[0]
    assert identity == {k: v for k, v in entry.items() if k != "bytes"}
    assert entry["bytes"] == file_of(tmp_path, "fp0").stat().st_size
    assert identity["task"] == "toy" and identity["model"] == MODEL.id and identity["index"] == 0


@pytest.mark.parametrize(
    "damage, reason",
    [
        (truncate, "truncated: "),
        (damage_footer, "unreadable footer: "),
        (lambda p: p.unlink(), "file missing"),
    ],
)
def test_a_damaged_file_is_not_stored_and_goes_to_quarantine_when_recomputed(tmp_path, damage, reason):
    store, shards = filled(tmp_path)
    before = file_of(tmp_path, "fp1").read_bytes() if damage is not truncate else None
    damage(tmp_path / store.manifest()[1]["path"])
    resumed = ResultStore(str(tmp_path))
    assert [resumed.has(f"fp{i}") for i in range(3)] == [True, False, True]
    assert resumed.shard_problem("fp1").startswith(reason)
    assert any(m.startswith("toy t--llama #1 (shards/toy/t--llama/fp1.parquet): " + reason) for m in resumed.warnings)
    resumed.write_shard(shards[1], rows(shards[1]), 2.0)  # what the run does with a shard that is not stored
    aside = list((tmp_path / "quarantine").rglob("fp1.*.parquet"))
    assert len(aside) == (0 if reason == "file missing" else 1)
    if aside:
        log = [json.loads(x) for x in (tmp_path / "quarantine" / "quarantine.jsonl").read_text().splitlines()]
        assert log[0]["from"] == "shards/toy/t--llama/fp1.parquet" and log[0]["reason"].startswith(reason)
        if before is not None:
            assert aside[0].read_bytes() != before  # moved as it was (damaged), not deleted
    assert all(ResultStore(str(tmp_path)).has(f"fp{i}") for i in range(3))
    assert len(all_records(tmp_path)) == 9


def test_another_shards_file_at_the_path_fails_the_identity_check(tmp_path):
    store, _ = filled(tmp_path)
    file_of(tmp_path, "fp1").write_bytes(file_of(tmp_path, "fp2").read_bytes())  # same size: only identity tells
    resumed = ResultStore(str(tmp_path))
    assert not resumed.has("fp1") and "holds shard fp2" in resumed.shard_problem("fp1")


def test_stored_ok_checks_many_footers_at_once_and_has_reuses_them(tmp_path):
    store, _ = filled(tmp_path, n=6)
    truncate(file_of(tmp_path, "fp4"))
    resumed = ResultStore(str(tmp_path))
    assert resumed.stored_ok([f"fp{i}" for i in range(8)]) == {"fp0", "fp1", "fp2", "fp3", "fp5"}
    os.remove(file_of(tmp_path, "fp0"))
    assert resumed.has("fp0")  # cached: one footer read per shard per run, not one per question


def test_files_of_older_versions_without_identity_or_size_still_count(tmp_path):
    store, shards = filled(tmp_path, n=1)
    path = file_of(tmp_path, "fp0")
    pq.write_table(rows(shards[0]), path)  # no checksums, no identity
    entry = {k: v for k, v in store.manifest()[0].items() if k != "bytes"}
    (tmp_path / MANIFEST).write_text(json.dumps(entry) + "\n")
    again = ResultStore(str(tmp_path))
    assert again.has("fp0") and len(again.read_records()) == 3


# ---- shard files: full reads (score, verify) --------------------------------------------------
def test_a_flipped_data_page_passes_the_cheap_check_but_every_read_names_it(tmp_path):
    store, _ = filled(tmp_path)
    flip_data_page(file_of(tmp_path, "fp2"))
    resumed = ResultStore(str(tmp_path))
    assert resumed.has("fp2")  # the footer is intact: a resume does not read data pages (docs/faults.md)
    with pytest.raises(DamagedShardsError, match=r"toy t--llama #2 \(shards/toy/t--llama/fp2.parquet\): .*checksum"):
        resumed.read_records()
    frame = resumed.read_records(skip_damaged=True)
    assert sorted(set(frame["shard"])) == ["fp0", "fp1"]
    assert [p.fingerprint for p in resumed.skipped] == ["fp2"] and "CRC" in resumed.skipped[0].reason


def test_read_names_every_bad_shard_at_once(tmp_path):
    store, _ = filled(tmp_path, n=4)
    truncate(file_of(tmp_path, "fp0"))
    flip_data_page(file_of(tmp_path, "fp2"))
    os.remove(file_of(tmp_path, "fp3"))
    with pytest.raises(DamagedShardsError) as info:
        ResultStore(str(tmp_path)).read_records()
    assert [(p.fingerprint, p.reason.split(":")[0]) for p in info.value.problems] == [
        ("fp0", "truncated"),
        ("fp2", "page checksum failed"),
        ("fp3", "file missing"),
    ]
    with pytest.raises(DamagedShardsError, match="2 stored shard"):  # skip_missing alone still refuses damage
        ResultStore(str(tmp_path)).read_records(skip_missing=True)


def scoreable(root: Path) -> ResultStore:
    """A results root `evalfleet score` can rank: two teams x three families, gsm8k, four items each."""
    store = ResultStore(str(root))
    store.save_run_config({"edition": "edge-llm-2024", "track": "compression"})
    spec = load_task("gsm8k")
    for t, team in enumerate(("A", "B")):
        for f, family in enumerate(("phi-2", "llama-3-8b", "qwen2-7b")):
            ref = ModelRef(team=team, family=family, path="/ckpt")
            s = shard(f"{team}{f}", index=0, n=4, spec=spec, model=ref)
            table = rows(s, chars=20)
            table = table.set_column(table.schema.get_field_index("team"), "team", [[team] * 4])
            store.write_shard(s, table, 1.0)
    return store


def test_score_refuses_naming_the_shards_or_scores_without_them_when_allowed(tmp_path, capsys):
    scoreable(tmp_path)
    flip_data_page(file_of(tmp_path, "B1"), column="metrics")  # score reads only the columns it needs (not output)
    assert cli.main(["score", str(tmp_path), "--out", str(tmp_path / "report")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "gsm8k B--llama-3-8b #0" in err and "--allow-missing" in err
    assert not (tmp_path / "report").exists()
    assert cli.main(["score", str(tmp_path), "--out", str(tmp_path / "report"), "--allow-missing"]) == 0
    md = (tmp_path / "report" / "leaderboard.md").read_text()
    assert "scored without 1 missing or damaged shard(s) (--allow-missing)" in md
    assert "left out: gsm8k B--llama-3-8b #0 (shards/gsm8k/B--llama-3-8b/B1.parquet): page checksum failed" in md


# ---- failed writes: a real filesystem that fills up, or turns read-only ------------------------
@pytest.fixture
def small_fs(tmp_path):
    """A 2 MiB tmpfs mounted for this test (root only; skipped where mounting is not permitted)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'mount failed'}): needs root in a mount ns")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(mnt: Path, leave_pages: int = 0) -> list[Path]:
    """Fill the filesystem with one-page ballast files, then free pages until `leave_pages` are left."""
    ballast = mnt / "ballast"
    ballast.mkdir()
    files = []
    try:
        while True:
            files.append(ballast / str(len(files)))
            files[-1].write_bytes(b"x" * 4096)
    except OSError:
        pass
    while os.statvfs(mnt).f_bavail < leave_pages:
        files.pop().unlink()
    return files


def test_a_full_disk_stops_with_one_error_naming_the_path_and_the_next_run_resumes(small_fs):
    root = small_fs / "results"
    store, shards = filled(root, n=2)
    before = all_records(root)
    ballast = fill(small_fs)
    extra = shard("fp2", index=2)
    with pytest.raises(StoreWriteError, match=r"results/shards/toy/t--llama/fp2.parquet: cannot write: .*No space"):
        store.write_shard(extra, rows(extra), 1.0)
    assert not list(root.rglob("*.tmp-*"))  # the half-written temporary file is gone
    resumed = ResultStore(str(root))
    assert not resumed.has("fp2") and [e["fingerprint"] for e in resumed.manifest()] == ["fp0", "fp1"]
    assert all_records(root) == before
    for f in ballast:
        f.unlink(missing_ok=True)
    resumed.write_shard(extra, rows(extra), 1.0)
    assert ResultStore(str(root)).has("fp2") and len(all_records(root)) == 9


def test_a_full_disk_during_the_manifest_append_tears_its_line_and_nothing_half_written_counts(small_fs, tmp_path):
    root = small_fs / "results"
    store, shards = filled(root, n=1)
    entry = store.manifest()[0]
    # the next line will cross a page boundary: 10 bytes fit in the manifest's page, the rest needs a new one
    padding = 4096 - 10 - len(json.dumps({**entry, "pad": ""}, sort_keys=True)) - 1
    (root / MANIFEST).write_text(json.dumps({**entry, "pad": "x" * padding}, sort_keys=True) + "\n")
    extra = shard("fp1", index=1)
    size = ResultStore(str(tmp_path / "sizing")).write_shard(extra, rows(extra), 1.0)["bytes"]
    ballast = fill(small_fs, leave_pages=math.ceil(size / 4096))  # room for the shard file, not for its line
    store = ResultStore(str(root))
    with pytest.raises(StoreWriteError, match=r"results/manifest.jsonl: cannot write: .*No space left.* not stored"):
        store.write_shard(extra, rows(extra), 1.0)
    assert not (root / MANIFEST).read_text().endswith("\n")  # a real torn line
    resumed = ResultStore(str(root))
    assert resumed.has("fp0") and not resumed.has("fp1") and "line 2: torn last line" in resumed.warnings[0]
    for f in ballast:
        f.unlink(missing_ok=True)
    resumed.write_shard(extra, rows(extra), 1.0)
    assert [json.loads(x)["fingerprint"] for x in lines(root)] == ["fp0", "fp1"]
    assert ResultStore(str(root)).has("fp1") and len(all_records(root)) == 6


def test_a_read_only_filesystem_stops_with_one_error_naming_the_path(small_fs):
    root = small_fs / "results"
    store, _ = filled(root, n=1)
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    extra = shard("fp1", index=1)
    with pytest.raises(StoreWriteError, match=r"fp1.parquet: cannot write: .*Read-only file system"):
        ResultStore(str(root)).write_shard(extra, rows(extra), 1.0)
    with pytest.raises(StoreWriteError, match=r"runs/.*\.jsonl: cannot write: .*Read-only"):
        ResultStore(str(root)).log({"event": "start"})
    assert ResultStore(str(root)).has("fp0") and not ResultStore(str(root)).has("fp1")
