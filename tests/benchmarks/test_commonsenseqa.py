"""CommonsenseQA (734a22 and gen_c946f2): item count, prompt shape, OpenCompass's (output → extracted → score) pairs."""

from __future__ import annotations

import pytest

from evalfleet.benchmarks import get_module
from evalfleet.benchmarks.prompting import chat_messages, render
from evalfleet.spec.taskspec import load_task

COT = load_task("commonsenseqa")
C946 = load_task("commonsenseqa:gen_c946f2")
MOD = get_module(COT)

# (output, match_answer_pattern(r'(?i)so the answer is\s*([A-P])'), first_capital_postprocess) as
# OpenCompass 0.5.4 computes them; the parity suite re-checks against OpenCompass itself.
PAIRS = [
    ("A: The answer must be a bank. So the answer is A.", "A", "A"),
    ("so the answer is b", "b", ""),  # case-insensitive match keeps the lowercase letter
    ("So the answer is (B) or (C). So the answer is C.", "C", "S"),  # '(' is not a letter: next match
    ("The answer is (B) or (C)", "", "T"),
    ("", "", ""),
    ("so the answer is:  D", "", "D"),  # ':' breaks \s*
    ("So the answer is\nE", "E", "S"),
    ("so the answer is Z", "", "Z"),
    ("so the answer is P", "P", "P"),  # [A-P] accepts letters beyond E
    ("émile says ÉB", "", "É"),  # str.isupper() is Unicode-aware
]


@pytest.mark.parametrize("output,cot,capital", PAIRS)
def test_known_pairs(output, cot, capital):
    assert MOD.extract(output, None, COT) == cot
    assert MOD.extract(output, None, C946) == capital


def test_items_and_prompt_shape(shared_data):
    items = MOD.load_items(COT, shared_data)
    assert len(items) == 1221
    assert items[0].reference == "A"
    prompt = render(items[0].messages, "base")
    assert prompt.startswith("\nQ: What do people use to absorb extra ink")  # the empty `begin` round
    assert prompt.count("So the answer is") == 7
    assert prompt.endswith("Answer Choices: A. bank\nB. library\nC. department store\nD. mall\nE. new york\nA:")
    chat = chat_messages(items[0].messages)
    assert [m["role"] for m in chat] == ["user", "assistant"] * 7 + ["user"]
    assert MOD.score("A", items[0], COT) == {"accuracy": 1.0}
    assert MOD.score("a", items[0], COT) == {"accuracy": 0.0}


def test_c946f2_prompt(shared_data):
    items = MOD.load_items(C946, shared_data)
    assert len(items) == 1221
    assert render(items[0].messages, "base").endswith("\nD. mall\nE. new york\nAnswer:")
    assert render(items[0].messages, "base").startswith("\nA revolving door")
