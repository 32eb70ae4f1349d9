"""TyDiQA GoldP (tydiqa_gen_978d2a): counts per language, prompts, OpenCompass's (output → EM/F1) pairs."""

from __future__ import annotations

import pandas as pd
import pytest

from evalfleet.benchmarks import get_module
from evalfleet.benchmarks.prompting import render
from evalfleet.spec.taskspec import load_task
from evalfleet.types import Item

SPEC = load_task("tydiqa")
MOD = get_module(SPEC)
COUNTS = {
    "arabic": 921,
    "bengali": 113,
    "english": 440,
    "finnish": 782,
    "indonesian": 565,
    "korean": 276,
    "russian": 812,
    "swahili": 499,
    "telugu": 669,
}

# (output, gold answers, TydiQAEvaluator's (exact_match, f1) in percent) from OpenCompass 0.5.4.
PAIRS = [
    ("Wound care", ["Wound care"], 0.0, 50.0),  # OpenCompass lower-cases only the prediction
    ("wound care", ["wound care"], 100.0, 100.0),
    ("The answer, is", ["answer"], 100.0, 100.0),  # cut at ',' and the article dropped
    ("Paris\nLondon", ["paris"], 100.0, 100.0),  # first line only
    ("", ["x"], 0.0, 0.0),
]


@pytest.mark.parametrize("output,golds,em,f1", PAIRS)
def test_known_pairs(output, golds, em, f1):
    item = Item(id="english/0000", messages=(), reference=golds, subset="english")
    out = MOD.score(MOD.extract(output), item, SPEC)
    assert (out["exact_match"] * 100, out["f1"] * 100) == (em, f1)


def test_lowercase_reference_variant_fixes_capitalised_golds():
    item = Item(id="english/0000", messages=(), reference=["Wound care"], subset="english")
    assert MOD.score(MOD.extract("Wound care"), item, load_task("tydiqa:lowercase_reference"))["exact_match"] == 1.0


def test_items(shared_data):
    items = MOD.load_items(SPEC, shared_data)
    assert len(items) == 5077
    assert {lang: sum(i.subset == lang for i in items) for lang in COUNTS} == COUNTS
    assert [i.id for i in items] == sorted(i.id for i in items)
    english = next(i for i in items if i.subset == "english")
    prompt = render(english.messages, "base")
    assert prompt.startswith("Answer the following question based on the information in the given passage.\n\nPassage:")
    assert prompt.endswith("\nQuestion: What is a way to increase your wound healing speed?\nAnswer: ")
    assert english.reference == ["Wound care"]


def test_aggregate_means_languages():
    rows = pd.DataFrame(
        {
            "item_id": ["english/0000", "english/0001", "arabic/0000"],
            "subset": ["english", "english", "arabic"],
            "metrics": [
                {"exact_match": 1.0, "f1": 1.0},
                {"exact_match": 0.0, "f1": 0.5},
                {"exact_match": 0.0, "f1": 0.0},
            ],
        }
    )
    out = MOD.aggregate(rows, SPEC)
    assert out["tydiqa-goldp_english_f1"] == 75.0 and out["tydiqa-goldp_arabic_exact_match"] == 0.0
    assert out["f1"] == 37.5 and out["exact_match"] == 25.0
