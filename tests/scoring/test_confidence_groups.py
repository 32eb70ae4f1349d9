"""The bootstrap read one (task, model) group at a time equals the bootstrap of one frame of the whole store.

The reference is the whole-frame call `evalfleet score` made before (`compute_confidence(board, rules,
store.read_records(columns=NEEDED), ...)`), on a real store with several tasks, models, strata, samples,
errored rows and shards per model; the comparison is exact (every frame, every bit).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from _store import subset_names

from evalfleet.pipeline import recorded_items
from evalfleet.score_jobs import store_items
from evalfleet.scoring.confidence import compute_confidence
from evalfleet.scoring.confidence_draws import NEEDED, RecordedItems
from evalfleet.scoring.confidence_items import TaskCells, plan_for, recipe
from evalfleet.scoring.confidence_rules import ConfidenceSettings
from evalfleet.scoring.rules import parse_rules
from evalfleet.scoring.scoreboard import compute_scoreboard
from evalfleet.scoring.task_scores import SCORING_COLUMNS, grouped_task_scores
from evalfleet.spec.edition import load_edition
from evalfleet.spec.taskspec import load_task
from evalfleet.store.results import RECORD_SCHEMA, ResultStore
from evalfleet.types import ModelRef, Shard

EDGE = parse_rules(load_edition("edge-llm-2024"))
TEAMS = {"A": 0.7, "B": 0.6, "C": 0.55, "D": 0.5}
FAMILIES = ("phi-2", "llama-3-8b", "qwen2-7b")


def _metrics(task: str, p: float, rng) -> dict:
    hit = float(rng.random() < p)
    return {
        "longbench": lambda: {"score": float(rng.random()) * p},
        "truthfulqa": lambda: {
            "counted": float(rng.random() < 0.9),
            "bleu_acc": hit,
            "bleu_max": 1.0,
            "bleu_diff": 0.0,
        },
        "humaneval": lambda: {"pass@1": hit},
    }.get(task, lambda: {"accuracy": hit})()


SAMPLES = {"humaneval": 3, "gsm8k": 3}
N_ITEMS = 40


def write_model(store: ResultStore, task: str, ref: ModelRef, p: float, rng) -> None:
    """One model's rows of a task in two shards; several samples per item where the task has them; about 1
    row in 25 errored (counted as wrong); rows of a shard in sample-major order."""
    spec = load_task(task)
    subsets = subset_names(task, N_ITEMS)
    for index, part in enumerate((range(0, N_ITEMS // 2), range(N_ITEMS // 2, N_ITEMS))):
        fp = f"{task}-{ref.id}-{index}".replace(":", "@")
        rows = []
        for sample in range(SAMPLES.get(task, 1)):
            for i in part:
                error = "timeout" if rng.random() < 0.04 else None
                metrics = {} if error else _metrics(task, p, rng)
                row = {"shard": fp, "task": spec.id, "task_version": spec.version, "model": ref.id, "team": ref.team}
                row |= {"family": ref.family, "role": ref.role, "item_id": f"{i:03d}", "subset": subsets[i]}
                row |= {"sample": sample, "output": "", "extracted": "", "score": metrics.get(spec.metric, 0.0)}
                row |= {"metrics": json.dumps(metrics), "error": error}
                rows.append(row)
        ids = tuple(f"{i:03d}" for i in part)
        shard = Shard(task=spec, model=ref, index=index, item_ids=ids, fingerprint=fp)
        store.write_shard(shard, pa.Table.from_pylist(rows, schema=RECORD_SCHEMA), 0.0)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> ResultStore:
    root = tmp_path_factory.mktemp("groups")
    store = ResultStore(str(root))
    store.save_run_config({"edition": "edge-llm-2024", "track": "compression"})
    rng = np.random.default_rng(2024)
    tasks = ("gsm8k", "bbh", "chid", "longbench", "truthfulqa", "humaneval", "commonsenseqa")
    for t, (team, p) in enumerate(TEAMS.items()):
        for fam in FAMILIES:
            ref = ModelRef(team=team, family=fam, path="/ckpt")
            for task in tasks:
                write_model(store, task, ref, p, rng)
            probe = load_task("edge_probe:kit")
            fp = f"probe-{ref.id}"
            row = {"shard": fp, "task": probe.id, "task_version": probe.version, "model": ref.id, "team": team}
            row |= {"family": fam, "role": "submission", "item_id": "probe", "sample": 0}
            row |= {"metrics": json.dumps({"throughput": 20.0 - t, "memory_mb": 6000.0})}
            shard = Shard(task=probe, model=ref, index=0, item_ids=("probe",), fingerprint=fp)
            store.write_shard(shard, pa.Table.from_pylist([row], schema=RECORD_SCHEMA), 0.0)
    return ResultStore(str(root))


def test_the_group_at_a_time_bootstrap_equals_the_whole_frame_bootstrap(store):
    scores = grouped_task_scores(store.record_groups(SCORING_COLUMNS))
    board = compute_scoreboard(scores, EDGE, track="compression")
    settings = ConfidenceSettings(replicates=300, seed=5)
    whole = compute_confidence(board, EDGE, store.read_records(columns=list(NEEDED)), settings)
    items = recorded_items(store, board.scores, allow_missing=False)
    assert isinstance(items, RecordedItems) and "edge_probe:kit" not in items.cells  # a probe has no items
    grouped = compute_confidence(board, EDGE, items, settings)
    for name in ("intervals", "stability", "tests"):
        pd.testing.assert_frame_equal(getattr(grouped, name), getattr(whole, name), check_exact=True)
    assert grouped.notes == whole.notes and grouped.settings == whole.settings
    # the comparison covers every task with items, and intervals that are intervals
    conf = whole.intervals
    covered = set(conf[conf["view"] == "averaged-three-model"].dropna(subset=["ci_low"])["task"])
    assert {"gsm8k", "bbh", "chid", "longbench", "truthfulqa", "humaneval", "commonsenseqa"} <= covered
    assert (conf["ci_low"] < conf["ci_high"]).any()


def test_errored_rows_count_as_wrong_in_the_cells(store):
    """A cell's value is the recorded per-item mean with errored samples as 0 (task_scores' rule), computed
    here by hand from the stored rows of one model."""
    items = recorded_items(store, grouped_task_scores(store.record_groups(SCORING_COLUMNS)), allow_missing=False)
    cells = items.cells["gsm8k"]
    m = cells.matrix(plan_for(cells.spec, "accuracy"), "accuracy")
    rows = store.read_records(["gsm8k"])
    model = m.models[0]
    mine = rows[rows["model"] == model]
    assert mine["error"].notna().any()
    value = [mt["accuracy"] if pd.isna(e) else 0.0 for mt, e in zip(mine["metrics"], mine["error"])]
    expected = pd.Series(value, index=mine["item_id"].to_numpy()).groupby(level=0).mean()
    got = pd.Series(m.num[:, 0], index=list(m.items))
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False, rtol=0, atol=1e-15)


def test_cells_from_worker_processes_give_the_same_confidence_as_one_process(store):
    scores = grouped_task_scores(store.record_groups(SCORING_COLUMNS))
    board = compute_scoreboard(scores, EDGE, track="compression")
    settings = ConfidenceSettings(replicates=300, seed=5)
    one = store_items(store, board.scores, jobs=1)
    many = store_items(ResultStore(store.root), board.scores, jobs=2, min_rows=0)  # 16 chunks: a task's models split
    assert set(many.cells) == set(one.cells) and len(many.cells["gsm8k"].models) == len(one.cells["gsm8k"].models)
    expected, got = compute_confidence(board, EDGE, one, settings), compute_confidence(board, EDGE, many, settings)
    for name in ("intervals", "stability", "tests"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(expected, name), check_exact=True)


@pytest.mark.parametrize("task, metric", [("gsm8k", "accuracy"), ("bbh", "accuracy")])
def test_merged_cells_equal_cells_added_in_one_object(task, metric):
    """Two processes see models with other items in another order (their cell ids differ): merged, the matrix
    is the one of one object that saw every model."""
    spec = load_task(task)
    names = subset_names(task, 6)

    def rows(ids: list[int], hits: list[float], errored: int | None = None) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "item_id": [f"{i:03d}" for i in ids],
                "subset": [names[i] for i in ids],
                "metrics": [{"accuracy": h} for h in hits],
                "error": ["lost" if n == errored else None for n in range(len(ids))],
            }
        )

    a, b, c = rows([0, 1, 2, 3], [1.0, 0.0, 1.0, 1.0]), rows([5, 3, 4], [0.0, 1.0, 1.0], 1), rows([4, 0], [1.0, 0.0])
    recipes = [recipe(plan_for(spec, metric))]
    whole = TaskCells(spec, recipes)
    for model, frame in (("m-a", a), ("m-b", b), ("m-c", c)):
        whole.add(model, frame)
    first, second = TaskCells(spec, recipes), TaskCells(spec, recipes)
    first.add("m-a", a)
    second.add("m-b", b)
    second.add("m-c", c)
    first.merge(second)
    expected, got = whole.matrix(plan_for(spec, metric), metric), first.matrix(plan_for(spec, metric), metric)
    assert got.models == expected.models and got.items == expected.items and got.bounds == expected.bounds
    np.testing.assert_array_equal(got.num, expected.num)
    np.testing.assert_array_equal(got.den, expected.den)
    assert len(got.items) == 6 and got.num.sum() > 0
