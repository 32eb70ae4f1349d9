"""HELM 2023 import: both official final-round tables into a results store, then the 2023 views from the
records, matched against the organizers' published Score_open / Score_hidden / Score_full (all 17 finalists)."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from evalfleet.errors import EvalfleetError
from evalfleet.ingest.helm import import_helm, track_from_name
from evalfleet.scoring.rules import parse_rules
from evalfleet.scoring.scoreboard import compute_scoreboard
from evalfleet.scoring.tables import read_helm_published
from evalfleet.spec.edition import load_edition
from evalfleet.store.results import ResultStore

TABLES = {"A100": ("A100_full_ranks_final_round.json", 9), "4090": ("4090_full_ranks_final_round.json", 8)}


def task_scores_from(results: str) -> pd.DataFrame:
    """The task-score frame of a results root, through the store and the core's aggregation."""
    from evalfleet.scoring.task_scores import task_scores

    return task_scores(ResultStore(results).read_records())


@pytest.mark.parametrize("track", TABLES)
def test_imported_records_reproduce_the_published_scores(shared_data, tmp_path, track):
    name, finalists = TABLES[track]
    table = shared_data / "llm-efficiency-2023" / name
    assert track_from_name(table) == track
    written = import_helm(table, str(tmp_path))
    assert len(written) == finalists
    assert import_helm(table, str(tmp_path)) == []  # same table again: nothing new
    assert ResultStore(str(tmp_path)).load_run_config()["track"] == track

    scores = task_scores_from(str(tmp_path))
    board = compute_scoreboard(scores, parse_rules(load_edition("llm-efficiency-2023")), track=track)
    view = next(v for v in board.views if v.name == "geometric-mean").table.set_index("team")
    published = read_helm_published(table).set_index("team")
    assert sorted(view.index) == sorted(published.index) and len(view) == finalists
    for column in ("Score_open", "Score_hidden", "Score_full"):
        assert view[column].to_numpy() == pytest.approx(published.loc[view.index, column].to_numpy(), abs=1e-12), column


def test_records_keep_nulls_and_one_row_per_scenario(shared_data, tmp_path):
    table = shared_data / "llm-efficiency-2023" / TABLES["A100"][0]
    import_helm(table, str(tmp_path))
    records = ResultStore(str(tmp_path)).read_records()
    assert set(records["task"]) == {"helm_imported"} and set(records["family"]) == {"A100"}
    raw = json.loads(table.read_text())
    first, values = raw[0]
    mine = records[records["team"] == first].set_index("item_id")
    assert sorted(mine.index) == sorted(
        ["MMLU", "TruthfulQA", "BIG-bench", "GSM8K", "BBQ", "sam_sum", "corr2cause", "MATH", "ethics"]
    )
    assert values["sam_sum - Stereotypes (race)"] is None
    assert mine.loc["sam_sum", "metrics"]["sam_sum - Stereotypes (race)"] is None
    assert mine.loc["MMLU", "metrics"]["MMLU - EM"] == values["MMLU - EM"]
    # every HELM metric of the table is in some record, and nothing else (no win rates, no scores)
    recorded = {k for m in records[records["team"] == first]["metrics"] for k in m}
    assert recorded == {k for k in values if not k.endswith("Mean Win Rate") and not k.startswith("Score_")}


def test_rule_file_scenarios_match_the_importer(shared_data):
    rules = parse_rules(load_edition("llm-efficiency-2023"))
    table = json.loads((shared_data / "llm-efficiency-2023" / TABLES["4090"][0]).read_text())
    metrics = {k for k in table[0][1] if not k.endswith("Mean Win Rate") and not k.startswith("Score_")}
    assert {m.name for s in rules.geometric.scenarios for m in s.metrics} == metrics
    runnable = {s.name: s.run_task for s in rules.geometric.scenarios if s.run_task}
    assert runnable == {"TruthfulQA": "truthfulqa", "BIG-bench": "bbh", "GSM8K": "gsm8k", "MATH": "math"}
    assert set(runnable.values()) == set(load_edition("llm-efficiency-2023").tasks)
    # a 2023 run config can run each of them: the task spec exists and reports the metric the view reads
    from evalfleet.spec.taskspec import load_task

    for scen in rules.geometric.scenarios:
        if scen.run_task:
            assert load_task(scen.run_task).metric == scen.run_metric, scen.name


def test_other_track_into_the_same_root_is_refused(shared_data, tmp_path):
    import_helm(shared_data / "llm-efficiency-2023" / TABLES["A100"][0], str(tmp_path))
    with pytest.raises(EvalfleetError, match="track"):
        import_helm(shared_data / "llm-efficiency-2023" / TABLES["4090"][0], str(tmp_path))
    with pytest.raises(EvalfleetError, match="not found"):
        import_helm(tmp_path / "missing.json", str(tmp_path))


def test_cli(shared_data, tmp_path):
    table = shared_data / "llm-efficiency-2023" / TABLES["4090"][0]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "evalfleet",
            "import-helm",
            str(table),
            "--results",
            str(tmp_path / "r"),
            "--track",
            "4090",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "8 team shards written" in done.stdout
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "evalfleet",
            "import-helm",
            str(tmp_path / "nope.json"),
            "--results",
            str(tmp_path / "r"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "HELM table not found" in bad.stderr


def test_verify_accepts_imported_results(shared_data, tmp_path):
    """`evalfleet verify` has no outputs to re-extract for imported rows: it checks files and passes."""
    import_helm(shared_data / "llm-efficiency-2023" / TABLES["A100"][0], str(tmp_path / "r"))
    done = subprocess.run(
        [sys.executable, "-m", "evalfleet", "verify", str(tmp_path / "r")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (next((tmp_path / "r" / "shards").rglob("*.parquet"))).unlink()
    broken = subprocess.run(
        [sys.executable, "-m", "evalfleet", "verify", str(tmp_path / "r")], capture_output=True, text=True, timeout=120
    )
    assert broken.returncode == 1
