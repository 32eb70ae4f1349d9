"""T-Eval (OpenCompass teval_en_gen_1ac254 on the v1 files): items, teval_postprocess, and known
(output → score) pairs worked out by hand from T-Eval's PlanningEvaluator / ReviewEvaluator rules."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from evalfleet.benchmarks.prompting import render
from evalfleet.benchmarks.teval import aggregate, exact_similarity, extract, load_items, match_plans, score
from evalfleet.errors import EvalfleetError
from evalfleet.spec.taskspec import load_task
from evalfleet.types import Item, Message


@pytest.fixture(scope="module")
def items(shared_data):
    return load_items(load_task("teval"), shared_data)


def test_items_and_prompts(items, shared_data):
    counts = pd.Series([i.subset for i in items]).value_counts().to_dict()
    assert counts == {"plan_json_v1": 553, "plan_str_v1": 553, "review_str_v1": 487}
    raw = json.loads((shared_data / "teval" / "plan_json_v1.json").read_text())
    first = next(i for i in items if i.id == "plan_json_v1/query_0_1")
    system, user = raw["query_0_1"]["origin_prompt"]
    assert render(first.messages, "base") == system["content"] + "\n" + user["content"]
    assert first.reference["ground_truth"] == raw["query_0_1"]["ground_truth"]
    assert len(load_items(load_task("teval:review_str_v1"), shared_data)) == 487


@pytest.mark.parametrize(
    "text, expected",
    [
        ('```json\n[{"id": 0}]\n```', '[{"id": 0}]'),
        ("Answer: B<|im_end|>junk", "Answer: B"),
        ("  Answer: C\nuser: next turn", "Answer: C"),
        ('{{"a": 1}}', '{"a": 1}'),
        ("plan [INST] more", "plan"),
        ("", ""),
    ],
)
def test_teval_postprocess(text, expected):
    assert extract(text) == expected


def _review(answer="B"):
    return Item(
        id="r",
        messages=(Message("user", "q"),),
        subset="review_str_v1",
        reference={"template": "", "meta_data": {"response_format": "str"}, "ground_truth": {"answer": answer}},
    )


@pytest.mark.parametrize(
    "output, parse, quality",
    [
        ("Answer: B", 1.0, 1.0),
        ("Answer: A", 1.0, 0.0),
        ("B", 1.0, 1.0),  # no ':' — find() is -1, the whole text is read
        ("Answer: b", 0.0, 0.0),  # lowercase is not an option letter
        ("Answer: (B)", 0.0, 0.0),
        ("Answer:", 0.0, 0.0),
        ("Thought: it failed. Answer: B", 0.0, 0.0),  # only the text after the FIRST ':' is read: 'it failed...'
    ],
)
def test_review_pairs(output, parse, quality):
    assert score(extract(output), _review(), load_task("teval")) == {
        "parse_rate": parse,
        "review_quality": quality,
        "score": quality,
    }


GT = [
    {"id": 0, "prev": [], "name": "A.search", "args": {"q": "x"}},
    {"id": 1, "prev": [0], "name": "B.details", "args": {"id": 1}},
    {"id": 2, "prev": [1], "name": "C.price", "args": {"id": 1}},
    {"id": 3, "prev": [2], "name": "FinishAction", "args": {}},
]


def _plan(prompt_type="json"):
    return Item(
        id="p",
        messages=(Message("user", "q"),),
        subset=f"plan_{prompt_type}_v1",
        reference={
            "meta": {"prompt_type": prompt_type, "API_list": ["A.search", "B.details", "C.price"]},
            "ground_truth": GT,
        },
    )


def _pred(steps):
    return json.dumps([{"id": i, "name": n, "args": a} for i, (n, a) in enumerate(steps)])


@pytest.mark.parametrize(
    "output, p, r",
    [
        # the reference itself (FinishAction is dropped on both sides): 3/3
        (
            _pred([("A.search", {"q": "x"}), ("B.details", {"id": 1}), ("C.price", {"id": 1}), ("FinishAction", {})]),
            1.0,
            1.0,
        ),
        # one step missing: precision 2/2, recall 2/3
        (_pred([("A.search", {"q": "x"}), ("C.price", {"id": 1})]), 1.0, 2 / 3),
        # right names, wrong args: 0.75 > 0.7 still matches
        (_pred([("A.search", {"q": "y"}), ("B.details", {"id": 2}), ("C.price", {"id": 3})]), 1.0, 1.0),
        # reversed order: matched ids 2,1,0 — the longest increasing run is 1
        (_pred([("C.price", {"id": 1}), ("B.details", {"id": 1}), ("A.search", {"q": "x"})]), 1 / 3, 1 / 3),
        # an extra unknown step: precision 3/4
        (
            _pred([("A.search", {"q": "x"}), ("Z.other", {}), ("B.details", {"id": 1}), ("C.price", {"id": 1})]),
            0.75,
            1.0,
        ),
        # inside prose and a code fence: format_load slices [ ... ]
        ("Here is the plan:\n```json\n" + _pred([("A.search", {"q": "x"})]) + "\n```", 1.0, 1 / 3),
    ],
)
def test_plan_json_pairs(output, p, r):
    got = score(extract(output), _plan(), load_task("teval"))
    f1 = 2 * p * r / (p + r)
    assert got == pytest.approx({"precision": p, "recall": r, "f1_score": f1, "parse_rate": 1.0, "score": f1})


@pytest.mark.parametrize("output", ["no plan here", '[{"name": "A.search"}]', "[1, 2", ""])
def test_unparsable_plans_score_zero(output):
    got = score(extract(output), _plan(), load_task("teval"))
    assert got == {"precision": 0.0, "recall": 0.0, "f1_score": 0.0, "parse_rate": 0.0, "score": 0.0}


def test_plan_str_pairs():
    # one step per line / '. ' naming an API of the item's list; args never equal the reference's dict string
    out = "First call A.search with x. Then B.details on the first hit\nfinally C.price"
    got = score(extract(out), _plan("str"), load_task("teval"))
    assert got == pytest.approx({"precision": 1.0, "recall": 1.0, "f1_score": 1.0, "parse_rate": 1.0, "score": 1.0})
    got = score("C.price then A.search", _plan("str"), load_task("teval"))  # one line, first API named wins
    assert got["precision"] == 1.0 and got["recall"] == pytest.approx(1 / 3)


def test_only_finish_action_does_not_crash():
    pred = [{"id": 0, "name": "FinishAction", "args": "{}"}]
    gt = [{"id": 0, "name": "A.search", "args": "{}"}]
    assert match_plans(pred, gt, exact_similarity) == {"precision": 0.0, "recall": 0.0, "f1_score": 0.0}


def _embedding_like(a, b):
    """Exact similarity that, like a sentence-embedding cos_sim, cannot take an empty list of strings."""
    if not a or not b:
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied (1x0 and 64x1)")
    return exact_similarity(a, b)


@pytest.mark.parametrize(
    "pred, gt",
    [
        ([{"id": 0, "name": "FinishAction", "args": "{}"}], GT),  # nothing but FinishAction predicted
        (GT, [{"id": 0, "name": "FinishAction", "args": "{}"}]),  # a reference of only FinishAction
    ],
)
def test_only_finish_action_is_not_embedded(pred, gt):
    # OpenCompass raises on these (cos_sim of an empty embedding); evalfleet scores 0 before embedding anything
    gt = [{**s, "args": str(s["args"])} for s in gt]
    pred = [{**s, "args": str(s["args"])} for s in pred]
    assert match_plans(pred, gt, _embedding_like) == {"precision": 0.0, "recall": 0.0, "f1_score": 0.0}


def test_embedding_similarity_without_the_model_is_a_clear_error():
    spec = load_task("teval:embedding")
    with pytest.raises(EvalfleetError, match="plan_similarity|embedding"):
        score(_pred([("A.search", {"q": "x"})]), _plan(), spec)


def test_aggregate_is_opencompass_teval_group():
    rows = pd.DataFrame(
        {
            "subset": ["plan_json_v1"] * 2 + ["plan_str_v1"] * 2 + ["review_str_v1"] * 3,
            "metrics": [
                {"precision": 1, "recall": 0.5, "f1_score": 2 / 3, "parse_rate": 1},
                {"precision": 0, "recall": 0, "f1_score": 0, "parse_rate": 0},
                {"precision": 1, "recall": 1, "f1_score": 1, "parse_rate": 1},
                {"precision": 0.5, "recall": 0.5, "f1_score": 0.5, "parse_rate": 1},
                {"parse_rate": 1, "review_quality": 1},
                {"parse_rate": 1, "review_quality": 0},
                {"parse_rate": 0, "review_quality": 0},
            ],
        }
    )
    out = aggregate(rows, load_task("teval"))
    assert out["plan_json_v1/f1_score"] == pytest.approx(100 / 3)
    assert out["plan_str_v1/f1_score"] == pytest.approx(75.0)
    assert out["review_str_v1/review_quality"] == pytest.approx(33.33)  # rounded to 4 decimals before x100
    assert out["review_str_v1/parse_rate"] == pytest.approx(66.67)
    assert out["score"] == pytest.approx((100 / 3 + 75.0 + 33.33 + 33.33) / 4)
