"""score_jobs: the task scores of a store computed in worker processes equal one process's, on shard files and
on compacted files; missing and damaged shards refuse (or are left out) exactly as in one process."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from _store import mixed_store
from store._damage import flip_data_page, truncate

from evalfleet.errors import EvalfleetError
from evalfleet.score_jobs import split_by_rows, store_task_scores
from evalfleet.scoring.task_scores import SCORING_COLUMNS, grouped_task_scores
from evalfleet.store.compaction import compact
from evalfleet.store.results import DamagedShardsError, ResultStore


@pytest.fixture(scope="module")
def root(tmp_path_factory, shared_data) -> Path:
    path = tmp_path_factory.mktemp("jobs")
    mixed_store(path, shared_data)
    return path


def one_process(store: ResultStore, allow_missing: bool = False) -> pd.DataFrame:
    return grouped_task_scores(store.record_groups(SCORING_COLUMNS, allow_missing=allow_missing))


def test_workers_give_the_frame_of_one_process(root):
    expected = one_process(ResultStore(str(root)))
    got = store_task_scores(ResultStore(str(root)), jobs=2, min_rows=0)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert len(got) > 100 and got["model"].nunique() == 4


def test_workers_on_compacted_files(root, tmp_path):
    copy = tmp_path / "c"
    shutil.copytree(root, copy)
    expected = one_process(ResultStore(str(copy)))
    report = compact(ResultStore(str(copy)))
    assert report.groups > 0 and not list((copy / "shards").rglob("*.parquet"))
    pd.testing.assert_frame_equal(store_task_scores(ResultStore(str(copy)), jobs=2, min_rows=0), expected)


def test_damaged_shards_refuse_together_and_allow_missing_names_them(root, tmp_path):
    copy = tmp_path / "d"
    shutil.copytree(root, copy)
    entries = sorted(ResultStore(str(copy)).manifest(), key=lambda e: (e["task"], e["model"], e["index"]))
    first, last = entries[0], entries[-1]  # the first and the last group: two different workers' chunks
    truncate(copy / first["path"])
    flip_data_page(copy / last["path"], column="metrics")
    (copy / entries[len(entries) // 2]["path"]).unlink()

    with pytest.raises(DamagedShardsError) as one:
        one_process(ResultStore(str(copy)))
    with pytest.raises(DamagedShardsError) as many:
        store_task_scores(ResultStore(str(copy)), jobs=2, min_rows=0)
    assert [p.describe() for p in many.value.problems] == [p.describe() for p in one.value.problems]
    assert len(many.value.problems) == 3 and "--allow-missing" in str(many.value)

    alone, pooled = ResultStore(str(copy)), ResultStore(str(copy))
    expected = one_process(alone, allow_missing=True)
    got = store_task_scores(pooled, allow_missing=True, jobs=2, min_rows=0)
    pd.testing.assert_frame_equal(got, expected)
    assert pooled.scoring_notes() == alone.scoring_notes() and len(pooled.skipped) == 3


def test_chunks_are_contiguous_cover_every_group_and_weigh_about_the_same():
    groups = [((f"t{i // 10}", f"m{i % 10}"), [{"n_rows": 100 + 50 * (i % 3)}]) for i in range(60)]
    chunks = split_by_rows(groups, 8)
    assert [g for chunk in chunks for g in chunk] == groups and len(chunks) <= 8
    weights = [sum(e["n_rows"] for _, entries in chunk for e in entries) for chunk in chunks]
    assert max(weights) - min(weights) <= 150 + 1  # at most one group's rows apart
    assert split_by_rows(groups[:1], 8) == [groups[:1]]


def test_a_worker_killed_midway_is_a_clear_error(root):
    found: list = []
    thread = threading.Thread(target=lambda: found.append(_outcome(root)))
    thread.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _workers():
        time.sleep(0.05)
    for proc in _workers():
        proc.kill()
    thread.join(120)
    assert found and isinstance(found[0], EvalfleetError), found
    assert "scoring worker process failed" in str(found[0]) and "died (exit status -9)" in str(found[0])


def test_an_error_inside_a_worker_is_named(root, tmp_path):
    copy = tmp_path / "e"
    shutil.copytree(root, copy)
    store = ResultStore(str(copy))
    entry = store.manifest()[0]
    lines = [json.loads(line) for line in (copy / "manifest.jsonl").read_text().splitlines()]
    for line in lines:
        if line["task"] == entry["task"]:
            line["task"] = "no-such-task"  # a group whose task spec does not exist
    (copy / "manifest.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    with pytest.raises(EvalfleetError) as one:
        store_task_scores(ResultStore(str(copy)), jobs=1)
    with pytest.raises(EvalfleetError) as many:
        store_task_scores(ResultStore(str(copy)), jobs=2, min_rows=0)
    assert "no-such-task" in str(one.value) and "no-such-task" in str(many.value)


def _outcome(root):
    try:
        return store_task_scores(ResultStore(str(root)), jobs=2, min_rows=0)
    except EvalfleetError as exc:
        return exc


def _workers() -> list:
    return [p for p in psutil.Process().children() if "evalfleet.score_jobs" in " ".join(p.cmdline())]
