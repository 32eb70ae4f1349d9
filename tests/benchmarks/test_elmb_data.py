"""ELMB loader: local JSON Lines and Parquet files in the official fields, the hub fallback, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from evalfleet.benchmarks.elmb_data import FIELDS, HUB_SETS, check_row, load_rows, read_rows, save_jsonl
from evalfleet.errors import EvalfleetError

FIXTURES = Path(__file__).resolve().parents[2] / "evalfleet" / "benchmarks" / "fixtures"
ROWS = [
    {"question": "Q1?", "choices": ["a", "bb"], "answer": 1, "correct_answer_content": "bb"},
    {"question": "Q2?", "choices": ["x", "y", "z"], "answer": 0, "correct_answer_content": "x"},
]


def test_fixtures_are_in_the_official_format():
    for use_case in HUB_SETS:
        rows = read_rows(FIXTURES / "elmb" / f"{use_case}.jsonl")
        assert len(rows) >= 6
        for n, row in enumerate(rows, 1):
            assert set(FIELDS) <= set(row)
            checked = check_row(row, n, use_case, need_ctx=use_case == "chatrag")
            assert row["choices"][checked["answer"]] == row["correct_answer_content"]


def test_jsonl_and_parquet_read_the_same(tmp_path):
    save_jsonl(ROWS, tmp_path / "elmb" / "roleplay.jsonl")
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "elmb" / "reasoning.parquet")
    from_jsonl, src1 = load_rows(tmp_path, "elmb/roleplay.jsonl", "data4elm/ELMB-RolePlay")
    # the spec names .jsonl; a Parquet file of the same stem is taken when the .jsonl is absent
    from_parquet, src2 = load_rows(tmp_path, "elmb/reasoning.jsonl", "data4elm/ELMB-Reasoning")
    assert from_jsonl == ROWS and from_parquet == ROWS
    assert src1.endswith("roleplay.jsonl") and src2.endswith("reasoning.parquet")
    assert type(from_parquet[0]["choices"]) is list and type(from_parquet[0]["answer"]) is int


def test_missing_file_without_hub_names_file_and_repo(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(EvalfleetError) as err:
        load_rows(tmp_path, "elmb/chatrag.jsonl", "data4elm/ELMB-ChatRAG")
    assert "chatrag.jsonl" in str(err.value) and "data4elm/ELMB-ChatRAG" in str(err.value)
    with pytest.raises(EvalfleetError, match="data file not found"):
        load_rows(tmp_path, "elmb/chatrag.jsonl", None)


@pytest.mark.parametrize(
    "row, field",
    [
        ({"choices": ["a"], "answer": 0, "correct_answer_content": "a"}, "question"),
        ({"question": "q", "choices": "a b", "answer": 0, "correct_answer_content": "a"}, "choices"),
        ({"question": "q", "choices": ["a", "b"], "answer": 2, "correct_answer_content": "a"}, "answer"),
        ({"question": "q", "choices": ["a", "b"], "answer": True, "correct_answer_content": "a"}, "answer"),
        ({"question": "q", "choices": ["a", "b"], "answer": 0, "correct_answer_content": "a"}, "ctx"),
    ],
)
def test_bad_records_name_the_field(row, field):
    with pytest.raises(EvalfleetError) as err:
        check_row(row, 3, "f.jsonl", need_ctx=field == "ctx")
    assert f"'{field}'" in str(err.value) and "record 3" in str(err.value) and "f.jsonl" in str(err.value)


def test_string_and_float_answers_become_indices():
    assert check_row({**ROWS[0], "answer": "1"}, 1, "f")["answer"] == 1
    assert check_row({**ROWS[0], "answer": 1.0}, 1, "f")["answer"] == 1


def test_malformed_jsonl_names_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(EvalfleetError, match="line 2"):
        read_rows(path)
