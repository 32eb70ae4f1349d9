"""`evalfleet leaderboard` and `evalfleet score` as users run them (real subprocesses, real files)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from evalfleet.scoring.tables import read_helm_published

KIT_HEADER = "CommonsenseQA,BIG-Bench-Hard,GSM8K,LongBench,HumanEval,CHID,TruthfulQA,Throughput,Memory-Usage"


def evalfleet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evalfleet", *args], capture_output=True, text=True, timeout=180)


@pytest.mark.slow
def test_leaderboard_from_kit_csvs(tmp_path):
    tables = tmp_path / "tables"
    tables.mkdir()
    (tables / "alpha.csv").write_text(KIT_HEADER + "\n60.1,45.2,50.3,20.1,30.5,70.2,0.25,12.5,8000\n")
    (tables / "beta_results.csv").write_text(
        "CommonsenseQA,BIG-Bench Hard,GSM8K,HumanEval,CHID,TruthfulQA,Throughput,GPU Memory Usage\n"
        "55,47,52,28,69,0.27,15,1.9\n"
    )
    (tables / "gamma.csv").write_text(KIT_HEADER + "\n70,50,60,25,40,80,0.3,9,13000\n")
    out = tmp_path / "out"
    r = evalfleet("leaderboard", "--edition", "edge-llm-2024", "--table", str(tables), "--out", str(out))
    assert r.returncode == 0, r.stderr
    board = pd.read_csv(out / "rank-points.csv").set_index("team")
    # csqa: alpha 10, beta 9; bbh: beta 10, alpha 9; gsm8k: beta 10, alpha 9; longbench: alpha 10 (beta none);
    # humaneval: alpha 10, beta 9; chid: alpha 10, beta 9; truthfulqa: beta 10, alpha 9; throughput: beta 20, alpha 18
    assert board.loc["alpha", "total"] == 10 + 9 + 9 + 10 + 10 + 10 + 9 + 18
    assert board.loc["beta", "total"] == 9 + 10 + 10 + 0 + 9 + 9 + 10 + 20
    assert board.loc["gamma", "status"] == "disqualified"
    md = (out / "leaderboard.md").read_text()
    assert "memory 1.9 (below 100, read as GB) = 1945.6 MB" in md and "LongBench omitted" in md
    assert (out / "report.html").is_file() and (out / "rank-points.parquet").is_file()


def test_leaderboard_malformed_table_is_a_clear_error(tmp_path):
    bad = tmp_path / "delta.csv"
    bad.write_text(KIT_HEADER + "\n60,45,fifty,20,30,70,0.2,12.5,8000\n")
    r = evalfleet("leaderboard", "--edition", "edge-llm-2024", "--table", str(bad), "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert "delta.csv: field 'row 1, column 'GSM8K'': must be a number, got 'fifty'" in r.stderr


@pytest.mark.slow
@pytest.mark.parametrize(
    "track,name", [("A100", "A100_full_ranks_final_round.json"), ("4090", "4090_full_ranks_final_round.json")]
)
def test_leaderboard_from_helm_tables_matches_the_answer_key(shared_data, tmp_path, track, name):
    table = shared_data / "llm-efficiency-2023" / name
    r = evalfleet("leaderboard", "--edition", "llm-efficiency-2023", "--table", str(table), "--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    ours = pd.read_parquet(tmp_path / "geometric-mean.parquet").set_index("team")
    pub = read_helm_published(table).set_index("team")
    assert (ours.loc[pub.index, "Score_full"] - pub["Score_full"]).abs().max() < 1e-9
    assert f"— {track} track" in (tmp_path / "leaderboard.md").read_text().splitlines()[0]
    assert (tmp_path / "helm-mean-win-rate.csv").is_file()


@pytest.mark.slow
def test_score_a_results_root(shared_data, tmp_path):
    """`evalfleet score RESULTS` on a store holding the imported 2023 A100 table: the store -> records ->
    task scores -> views path, checked against the published numbers."""
    from evalfleet.ingest.helm import import_helm

    table = shared_data / "llm-efficiency-2023" / "A100_full_ranks_final_round.json"
    import_helm(table, str(tmp_path / "results"))
    r = evalfleet("score", str(tmp_path / "results"), "--out", str(tmp_path / "report"))
    assert r.returncode == 0, r.stderr
    assert "report.html" in r.stdout
    ours = pd.read_csv(tmp_path / "report" / "geometric-mean.csv").set_index("team")
    pub = read_helm_published(table).set_index("team")
    assert (ours.loc[pub.index, "Score_open"] - pub["Score_open"]).abs().max() < 1e-9
    assert (ours.loc[pub.index, "Score_hidden"] - pub["Score_hidden"]).abs().max() < 1e-9
