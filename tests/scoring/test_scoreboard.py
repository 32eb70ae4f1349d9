"""From a results store to the edition's views: real Parquet shards written through ResultStore, aggregated
by the core's task_scores, scored by score_results; expected numbers computed by hand below."""

from __future__ import annotations

import pandas as pd
import pytest
from _store import write_shard

from evalfleet.errors import EvalfleetError
from evalfleet.pipeline import score as score_results
from evalfleet.scoring import compute_scoreboard
from evalfleet.scoring.rules import parse_rules
from evalfleet.spec.edition import load_edition
from evalfleet.store.results import ResultStore
from evalfleet.types import ModelRef

FAMILIES = ("phi-2", "llama-3-8b", "qwen2-7b")
# correct answers out of 4 per family (phi, llama, qwen); None = model not submitted
GSM8K = {"A": (4, 2, 3), "B": (1, 1, 1), "heavy": (4, 4, 4), "partial": (4, 4, None)}
CSQA = {"A": (2, 2, 2), "B": (3, 3, 3), "heavy": (0, 0, 0), "partial": (3, 3, None)}
THROUGHPUT = {"A": (10, 10, 10), "B": (20, 20, 20), "heavy": (30, 30, 30), "partial": (30, 30, None)}
MEMORY = {"A": 5000.0, "B": 6000.0, "heavy": 13000.0, "partial": 7000.0}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    store = ResultStore(str(root))
    store.save_run_config({"edition": "edge-llm-2024", "track": "compression"})
    for team in GSM8K:
        for j, fam in enumerate(FAMILIES):
            if GSM8K[team][j] is None:
                continue
            ref = ModelRef(team=team, family=fam, path="/ckpt")
            write_shard(store, "gsm8k", ref, [{"accuracy": float(i < GSM8K[team][j])} for i in range(4)])
            write_shard(store, "commonsenseqa", ref, [{"accuracy": float(i < CSQA[team][j])} for i in range(4)])
            mem = MEMORY[team] + (0 if j else 1)
            write_shard(store, "edge_probe:kit", ref, [{"throughput": float(THROUGHPUT[team][j]), "memory_mb": mem}])
    return root


def test_score_results_end_to_end(results, tmp_path):
    html = score_results(str(results), str(tmp_path))
    assert html == tmp_path / "report.html" and html.is_file()
    avg = pd.read_parquet(tmp_path / "averaged-three-model.parquet").set_index("team")
    assert avg.loc["A", "gsm8k"] == pytest.approx((100 + 50 + 75) / 3)
    assert avg.loc["partial", "gsm8k"] == pytest.approx((100 + 100 + 0) / 3)  # missing qwen counts 0 (rule file)
    assert "missing qwen2-7b (zero)" in avg.loc["partial", "flags"]
    board = pd.read_parquet(tmp_path / "rank-points.parquet").set_index("team")
    # gsm8k: A 75 (10), partial 66.7 (9), B 25 (8).  csqa: B 75 (10), A = partial 50 share 2nd -> 8.5 each.
    # throughput (edge_probe:kit): B 20 = partial (30+30+0)/3 = 20 share 1st -> 19 each; A 10 -> 16.
    assert board.loc["A", "total"] == 10 + 8.5 + 16
    assert board.loc["B", "total"] == 8 + 10 + 19
    assert board.loc["partial", "total"] == 9 + 8.5 + 19
    assert board.loc["heavy", "status"] == "disqualified" and board.loc["heavy", "total"] == 0
    assert list(pd.read_csv(tmp_path / "rank-points.csv")["team"]) == ["B", "partial", "A", "heavy"]
    md = (tmp_path / "leaderboard.md").read_text()
    assert "not evaluated for any team: bbh, longbench, humaneval, chid, truthfulqa, tydiqa, math" in md


def test_2023_tasks_run_by_evalfleet_fill_their_scenarios():
    rules = parse_rules(load_edition("llm-efficiency-2023"))
    rows = [
        dict(team=t, model=t, family="x", role="submission", task=task, metric=metric, value=v, n=10)
        for t, vals in {"p": (50.0, 40.0, 0.3, 10.0), "q": (60.0, 30.0, 0.2, 20.0)}.items()
        for (task, metric), v in zip(
            [("gsm8k", "accuracy"), ("bbh", "accuracy"), ("truthfulqa", "bleu_acc"), ("math", "accuracy")], vals
        )
    ]
    board = compute_scoreboard(pd.DataFrame(rows), rules, track="A100")
    view = next(v for v in board.views if v.name == "geometric-mean")
    t = view.table.set_index("team")
    # open: GSM8K q wins (1/2 vs 0), BIG-bench p, TruthfulQA p -> p: gm(0, .5, .5) ~ 0; q: gm(.5, 0, 0) ~ 0
    # hidden: MATH q wins -> q 0.5, p ~ 0
    assert t.loc["q", "Score_hidden"] == pytest.approx(0.5) and t.loc["p", "Score_hidden"] < 1e-300
    assert t.loc["q", "Score_full"] == pytest.approx(2 / 3 * 0.5, rel=1e-12)
    assert any("GSM8K: 'GSM8K - EM' from evalfleet task gsm8k" in n for n in view.notes)
    assert any("open/MMLU: no values at all" in n for n in view.notes)


def test_a_scenario_from_a_run_and_a_table_is_an_error():
    rules = parse_rules(load_edition("llm-efficiency-2023"))
    rows = pd.DataFrame(
        [
            dict(team="p", model="p", family="x", role="submission", task="gsm8k", metric="accuracy", value=5.0, n=1),
            dict(team="p", model="p", family="", role="submission", task="GSM8K", metric="GSM8K - EM", value=0.05, n=0),
        ]
    )
    with pytest.raises(EvalfleetError, match="two values for metric 'GSM8K - EM'"):
        compute_scoreboard(rows, rules)


def test_nothing_to_score_is_a_clear_error(tmp_path):
    store = ResultStore(str(tmp_path))
    store.save_run_config({"edition": "edge-llm-2024", "track": "scratch"})
    with pytest.raises(EvalfleetError, match="no scores of any submission"):
        score_results(str(tmp_path), str(tmp_path / "out"))
