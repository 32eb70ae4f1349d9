"""Scoring rules from the rule files: the shipped ones parse; mistakes name the file and field."""

from __future__ import annotations

import pytest
import yaml

from evalfleet.errors import EvalfleetError
from evalfleet.scoring.rules import parse_rules
from evalfleet.spec.edition import load_edition


def test_shipped_rule_files():
    edge = parse_rules(load_edition("edge-llm-2024"))
    assert edge.views == ("averaged-three-model", "rank-points")
    assert set(edge.track("compression").families) == {"phi-2", "llama-3-8b", "qwen2-7b"}
    assert edge.track("").name == "compression" and edge.track("scratch").families == {}
    rp = edge.rank_points
    assert rp.task_points == (10, 9, 8, 7, 6, 5, 4, 3, 2, 1) and rp.throughput_points == tuple(range(20, 0, -2))
    assert rp.memory_limit_mb == 12 * 1024 and rp.ties == "shared-mean" and rp.show_top == 15
    h = parse_rules(load_edition("llm-efficiency-2023"))
    assert h.geometric.weights == {"open": 1 / 3, "hidden": 2 / 3}
    assert [s.name for s in h.geometric.scenarios] == [
        "MMLU",
        "TruthfulQA",
        "BIG-bench",
        "GSM8K",
        "BBQ",
        "sam_sum",
        "corr2cause",
        "MATH",
        "ethics",
    ]
    assert sum(len(s.metrics) for s in h.geometric.scenarios) == 31
    assert sum(m.lower_is_better for s in h.geometric.scenarios for m in s.metrics) == 4
    # the scenarios evalfleet can run itself; the rest must be imported
    assert {s.name: s.run_task for s in h.geometric.scenarios if s.run_task} == {
        "TruthfulQA": "truthfulqa",
        "BIG-bench": "bbh",
        "GSM8K": "gsm8k",
        "MATH": "math",
    }
    assert set(load_edition("llm-efficiency-2023").tasks) == {"gsm8k", "bbh", "truthfulqa", "math"}
    e = parse_rules(load_edition("elmb-2025"))
    assert e.delta.metric == "acc" and list(e.delta.use_cases) == ["roleplay", "robotics", "function_calling", "rag"]


@pytest.mark.parametrize(
    "raw,field",
    [
        ({"views": {"rank-points": {"ties": "coin-flip"}}}, "views.rank-points.ties"),
        ({"views": {"rank-points": {"task_points": [10, "x"]}}}, "views.rank-points.task_points[1]"),
        ({"views": {"rank-points": {"memory": {"limit": 1}}}}, "views.rank-points.memory.limit"),
        ({"views": {"best-view": {}}}, "views.best-view"),
        ({"views": {"delta": {"use_cases": {"rag": "elmb_chatrag"}, "metric": "f1"}}}, "views.delta.metric"),
        (
            {"views": {"geometric-mean": {"sets": {"open": {"scenarios": {"X": {"metrics": []}}}}}}},
            "views.geometric-mean.sets.open.scenarios.X.metrics",
        ),
        ({"tracks": {"a": {"missing_family": "guess"}}}, "tracks.a.missing_family"),
        ({"tracks": {"a": {}}, "default_track": "b"}, "default_track"),
    ],
)
def test_bad_rules_name_the_field(tmp_path, raw, field):
    (tmp_path / "x.yaml").write_text(yaml.safe_dump({"tasks": [], **raw}))
    with pytest.raises(EvalfleetError) as err:
        parse_rules(load_edition("x", tmp_path))
    assert err.value.field == field and "scoring/x.yaml" in str(err.value)


def test_unknown_track():
    with pytest.raises(EvalfleetError, match="unknown track 'mobile'"):
        parse_rules(load_edition("edge-llm-2024")).track("mobile")
