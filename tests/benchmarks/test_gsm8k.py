"""GSM8K (gsm8k_gen_1d7fe4): item count, prompt shape, and OpenCompass's (output → extracted → score) pairs."""

from __future__ import annotations

import pytest

from evalfleet.benchmarks import get_module
from evalfleet.benchmarks.prompting import render
from evalfleet.spec.taskspec import load_task

SPEC = load_task("gsm8k")
MOD = get_module(SPEC)

# (model output, what gsm8k_postprocess returns, gold, Gsm8kEvaluator's verdict) — worked out from
# OpenCompass 0.5.4's gsm8k_postprocess / Gsm8kEvaluator.is_equal; the parity suite re-checks them
# against OpenCompass itself.
PAIRS = [
    ("Janet sells 9 eggs, 9 * 2 = 18.\nThe answer is 18\n", "18", "18", 1.0),
    ("The answer is 18.0", "18.0", "18", 1.0),
    ("The answer is 18.00001", "18.00001", "18", 0.0),
    ("The answer is $1,000", "000", "1000", 0.0),  # comma splits the number
    ("The answer is 5\n\nQuestion: what is 7?", "5", "5", 1.0),  # a new question is cut off
    ("", "NULL", "5", 0.0),
    ("no digits here", "NULL", "5", 0.0),
    ("it is -3", "-3", "-3", 1.0),
    ("٣", "٣", "3", 1.0),  # Arabic-Indic digit: \d and float() both accept it
    ("3 or 4", "4", "3", 0.0),
    ("1.5.2", "2", "2", 1.0),  # findall takes "1.5" then "2"
]


@pytest.mark.parametrize("output,extracted,gold,verdict", PAIRS)
def test_known_pairs(output, extracted, gold, verdict):
    assert MOD.extract(output) == extracted
    assert MOD.is_equal(extracted, gold) == bool(verdict)


def test_items_and_prompt_shape(shared_data):
    items = MOD.load_items(SPEC, shared_data)
    assert len(items) == 1319
    assert [i.id for i in items] == sorted(i.id for i in items)
    assert items[0].reference == "18"
    assert len(items[0].messages) == 9 and items[0].messages[-1].role == "user"
    prompt = render(items[0].messages, "base")
    assert prompt.startswith("Question: Angelo and Melanie")
    assert prompt.count("Let's think step by step\nAnswer:") == 5
    assert "\nThe answer is 146\n\nQuestion: Janet" in prompt  # rounds joined by '\n'
    assert prompt.endswith("farmers' market?\nLet's think step by step\nAnswer:")
    assert MOD.score("18", items[0], SPEC) == {"accuracy": 1.0}
