"""BBH (bbh_gen_5b92b0): item counts, prompt shape, OpenCompass's extraction pairs, plain mean over subtasks."""

from __future__ import annotations

import pandas as pd
import pytest

from evalfleet.benchmarks import aggregate, get_module
from evalfleet.benchmarks.prompting import render
from evalfleet.spec.taskspec import load_task
from evalfleet.types import Item

SPEC = load_task("bbh")
MOD = get_module(SPEC)

# (output, bbh_mcq_postprocess(output)) as OpenCompass 0.5.4 computes it (re-checked by the parity suite).
MCQ_PAIRS = [
    ("So the answer is (B).", "B"),
    ("The answer is (B) or (C)", "B"),
    ("I think (C). So the answer is B.", "B"),
    ("", ""),
    ("the answer is unknown", "unknown"),  # no capital letter: the text after 'answer is ' itself
    ("the answer is (a)", "(a)"),
    ("answer is X answer is Y", "X"),  # the part between the first and second 'answer is '
    ("Options (E) maybe", "E"),
    ("the answer is Ｂ", "Ｂ"),  # full-width letter is not [A-Z]
    ("Let's think step by step. First, (A) is", "A"),
]
# (output, bbh_freeform_postprocess(output)).
FREE_PAIRS = [
    ("So the answer is Yes.", "Yes"),
    ("The answer is: 42", "42"),
    ("the answer is **True** indeed", "True"),
    ("answer is 1, 2, 3", "1, 2, 3"),
    ("answer is apple, banana,  cherry", "apple banana cherry"),
    ("So the answer is ) ] }.", ") ] }"),
    ("", ""),
    ("noway", "noway"),
    ("Answer is yes\nmore text", "Yes"),
    ("The answer is 5. The answer is 7.", "7"),
    ("The answer is invalid", "invalid"),
    ("cut mid-answ", "cut mid-answ"),
]


@pytest.mark.parametrize("output,expected", MCQ_PAIRS)
def test_mcq_pairs(output, expected):
    assert MOD.mcq_postprocess(output) == expected


@pytest.mark.parametrize("output,expected", FREE_PAIRS)
def test_freeform_pairs(output, expected):
    assert MOD.freeform_postprocess(output) == expected


def test_scores():
    mcq = Item(id="snarks/0000", messages=(), reference="(A)", subset="snarks", meta={"kind": "multiple_choice"})
    free = Item(id="navigate/0000", messages=(), reference="No", subset="navigate", meta={"kind": "free_form"})
    assert MOD.score(MOD.extract("So the answer is (A).", mcq), mcq) == {"accuracy": 1.0}
    assert MOD.score(MOD.extract("So the answer is (B).", mcq), mcq) == {"accuracy": 0.0}
    assert MOD.score(MOD.extract("So the answer is no.", free), free) == {"accuracy": 1.0}
    assert MOD.score(MOD.extract("So the answer is NO", free), free) == {"accuracy": 1.0}  # case-folded
    assert MOD.score(MOD.extract("So the answer is Yes.", free), free) == {"accuracy": 0.0}


def test_plain_mean_over_subtasks():
    # 1 of 1 right in 'a', 1 of 3 right in 'b': OpenCompass's naive average is (100 + 33.3) / 2, not 2/4.
    rows = pd.DataFrame(
        {
            "item_id": ["a/0", "b/0", "b/1", "b/2"],
            "subset": ["a", "b", "b", "b"],
            "sample": [0] * 4,
            "extracted": [""] * 4,
            "score": [1.0, 1.0, 0.0, 0.0],
            "metrics": [{"accuracy": 1.0}, {"accuracy": 1.0}, {"accuracy": 0.0}, {"accuracy": 0.0}],
        }
    )
    out = aggregate(rows, SPEC)
    assert out["accuracy"] == pytest.approx((100 + 100 / 3) / 2)
    assert out["bbh-b"] == pytest.approx(100 / 3)


def test_items_and_prompt_shape(shared_data):
    items = MOD.load_items(SPEC, shared_data)
    assert len(items) == 6511
    counts = pd.Series([i.subset for i in items]).value_counts()
    assert len(counts) == 27 and counts["causal_judgement"] == 187 and counts["snarks"] == 178
    assert counts["penguins_in_a_table"] == 146 and counts["navigate"] == 250
    assert len({i.id for i in items}) == 6511
    by_id = {i.id: i for i in items}
    prompt = render(by_id["navigate/0000"].messages, "base")
    assert prompt.startswith("Follow the given examples and answer the question.\nGiven a series of navigation")
    assert "canary" not in prompt and "-----" not in prompt
    assert prompt.count("Let's think step by step.") == 4
    assert prompt.endswith("\nA: Let's think step by step.")
    assert by_id["navigate/0000"].meta["kind"] == "free_form" and by_id["snarks/0000"].meta["kind"] == "multiple_choice"
