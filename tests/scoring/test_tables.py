"""Table importers: the kit CSV's real-world deviations, HELM tables, plain tables, clear errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from evalfleet.errors import EvalfleetError
from evalfleet.scoring.tables import read_helm_published, read_helm_table, read_kit_csv, read_score_table, read_table

KIT_HEADER = "CommonsenseQA,BIG-Bench-Hard,GSM8K,LongBench,HumanEval,CHID,TruthfulQA,Throughput,Memory-Usage"


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def by_task(frame):
    return {(r.task, r.metric): r.value for r in frame.itertuples()}


def test_kit_csv_as_the_kit_writes_it(tmp_path):
    p = write(tmp_path, "TeamA.csv", KIT_HEADER + "\n60.1,45.2,50.3,20.1,30.5,70.2,0.25,12.5,8000\n")
    f = read_kit_csv(p)
    v = by_task(f)
    assert set(f["team"]) == {"TeamA"} and set(f["family"]) == {""}
    assert v[("commonsenseqa", "score")] == 60.1 and v[("bbh", "score")] == 45.2 and v[("longbench", "score")] == 20.1
    assert v[("edge_probe", "throughput")] == 12.5 and v[("edge_probe", "memory_mb")] == 8000
    assert (f["note"] == "").all()


def test_kit_csv_real_world_deviations(tmp_path):
    """One team omits LongBench, writes 'BIG-Bench Hard' and 'GPU Memory Usage' with memory 1.9 (GB)."""
    p = write(
        tmp_path,
        "beta_results.csv",
        "CommonsenseQA,BIG-Bench Hard,GSM8K,HumanEval,CHID,TruthfulQA,Throughput,GPU Memory Usage\n"
        "55.0,47.0,52.0,28.0,69.0,0.27,15.0,1.9\n",
    )
    f = read_kit_csv(p)
    v = by_task(f)
    assert set(f["team"]) == {"beta"}
    assert v[("bbh", "score")] == 47.0 and ("longbench", "score") not in v
    assert v[("edge_probe", "memory_mb")] == pytest.approx(1.9 * 1024)
    note = f[f["metric"] == "memory_mb"]["note"].iloc[0]
    assert "LongBench omitted" in note and "'BIG-Bench Hard' read as BIG-Bench-Hard" in note and "read as GB" in note


def test_kit_csv_header_units_and_per_model_rows(tmp_path):
    header = KIT_HEADER.replace("Memory-Usage", "Memory Usage (GB)").replace("Throughput", "Throughput (inferences/s)")
    p = write(
        tmp_path,
        "results.csv",
        "\ufeffTeam,Family," + header + "\ngamma,phi-2,1,2,3,4,5,6,0.1,7,150\ngamma,qwen2-7b,1,2,3,4,5,6,0.1,7,7.5\n",
    )
    f = read_kit_csv(p)
    mem = f[f["metric"] == "memory_mb"].set_index("family")["value"]
    assert mem["phi-2"] == 150 * 1024 and mem["qwen2-7b"] == 7.5 * 1024  # the header says GB: obeyed even for 150
    assert set(f["model"]) == {"gamma--phi-2", "gamma--qwen2-7b"}


@pytest.mark.parametrize(
    "text,where",
    [
        (KIT_HEADER + "\n60,45,50,20,30,70,abc,12.5,8000\n", "row 1, column 'TruthfulQA'"),
        (KIT_HEADER + "\n60,45,50,20,30,70,0.2,12.5,8000\n61,46,,21,31,71,0.3,13,9000\n", "row 2, column 'GSM8K'"),
        (KIT_HEADER.replace(",Throughput", "") + "\n60,45,50,20,30,70,0.2,8000\n", "column 'Throughput'"),
        (KIT_HEADER + ",Extra\n60,45,50,20,30,70,0.2,12.5,8000,1\n", "column 'Extra'"),
    ],
)
def test_kit_csv_malformed_rows_name_row_and_column(tmp_path, text, where):
    p = write(tmp_path, "team.csv", text)
    with pytest.raises(EvalfleetError) as err:
        read_kit_csv(p)
    assert where in str(err.value) and "team.csv" in str(err.value)


def test_kit_csv_without_a_team_name(tmp_path):
    p = write(tmp_path, "Results.csv", KIT_HEADER + "\n60,45,50,20,30,70,0.2,12.5,8000\n")
    with pytest.raises(EvalfleetError, match="no team"):
        read_kit_csv(p)
    assert set(read_kit_csv(p, team="delta")["team"]) == {"delta"}


def test_helm_table_keeps_nulls_and_splits_scenarios(shared_data):
    path = shared_data / "llm-efficiency-2023" / "A100_full_ranks_final_round.json"
    f = read_helm_table(path)
    assert f["team"].nunique() == 9
    assert f.groupby("task")["metric"].nunique().to_dict() == {
        "MMLU": 3,
        "TruthfulQA": 3,
        "BIG-bench": 1,
        "GSM8K": 1,
        "BBQ": 1,
        "sam_sum": 5,
        "corr2cause": 1,
        "MATH": 1,
        "ethics": 15,
    }
    assert f["value"].isna().sum() == 13 and (f[f["value"].isna()]["note"] == "null in table").all()
    assert len(f) == 9 * 31
    pub = read_helm_published(path)
    assert {"Score_open", "Score_hidden", "Score_full", "MMLU Mean Win Rate"} <= set(pub.columns)


@pytest.mark.parametrize(
    "data,where",
    [
        ({"a": 1}, "non-empty JSON list"),
        ([["sub", {"MMLU - EM": "high"}]], "row 1 (sub), column 'MMLU - EM'"),
        ([["sub", {"MMLU - EM": 0.5}], ["sub2"]], "row 2"),
        ([["sub", {}], ["sub", {}]], "listed twice"),
    ],
)
def test_helm_table_errors(tmp_path, data, where):
    p = write(tmp_path, "t.json", json.dumps(data))
    with pytest.raises(EvalfleetError) as err:
        read_helm_table(p)
    assert where in str(err.value)


def test_plain_tables_csv_and_parquet(tmp_path):
    p = write(tmp_path, "s.csv", "team,model,task,score\na,a--phi,gsm8k,50\nb,b--phi,gsm8k,40\n")
    f = read_score_table(p)
    assert by_task(f[f["team"] == "a"]) == {("gsm8k", "score"): 50.0}
    pq = tmp_path / "s.parquet"
    pd.DataFrame({"team": ["a"], "model": ["m"], "task": ["bbh"], "score": [1.5], "metric": ["accuracy"]}).to_parquet(
        pq
    )
    assert read_table(pq)["metric"].tolist() == ["accuracy"]
    assert read_table(tmp_path)["team"].tolist() == ["a", "b", "a"]  # directory: sorted files


@pytest.mark.parametrize(
    "text,where",
    [
        ("team,model,task\na,m,gsm8k\n", "column 'score'"),
        ("team,model,task,score\na,m,gsm8k,\n", "row 1, column 'score'"),
        ("team,model,task,score\na,m,gsm8k,1\n,m,bbh,2\n", "row 2, column 'team'"),
        ("team,model,task,score\na,m,gsm8k,1\na,m,gsm8k,2\n", "row 2"),
    ],
)
def test_plain_table_errors(tmp_path, text, where):
    p = write(tmp_path, "s.csv", text)
    with pytest.raises(EvalfleetError) as err:
        read_score_table(p)
    assert where in str(err.value)
