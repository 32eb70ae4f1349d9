"""MATH (math_gen_265cce): item counts, prompt shape, math_postprocess_v2 and MATHEvaluator-v2 pairs."""

from __future__ import annotations

import pytest

from evalfleet.benchmarks import get_module
from evalfleet.benchmarks.prompting import render
from evalfleet.spec.taskspec import load_task

SPEC = load_task("math")
MOD = get_module(SPEC)

# (output, math_postprocess_v2(output)) as OpenCompass 0.5.4 computes it (re-checked by the parity suite).
EXTRACT_PAIRS = [
    ("The answer is \\boxed{5}.", "5"),
    ("so $\\boxed{\\frac{1}{2}}$", "\\frac{1}{2}"),
    ("\\boxed{{5}}", "5"),  # a doubled brace pair is stripped once
    ("\\boxed{\\boxed{3}}", "3"),  # nested: the last (inner) \boxed
    ("\\boxed{1} then \\boxed{2}", "2"),
    ("cut mid \\boxed{12", "cutmid\\boxed{12"),  # unbalanced: no box; the first sentence, normalized
    ("", ""),
    ("Final Answer: The final answer is $24$. I hope it is correct.", "24"),
    ("The answer is 0.5", "0"),  # split on '.', the sentence with "answer is" is "The answer is 0"
]
# (prediction, reference, MATHEvaluator(version='v2').is_equiv)
EQUIV_PAIRS = [
    ("5", "5", True),
    ("\\frac12", "\\frac{1}{2}", True),
    ("\\dfrac{1}{2}", "\\frac{1}{2}", True),
    ("0.5", "\\frac{1}{2}", False),  # v2 has no 0.5 -> 1/2 rule
    ("10\\%", "10", True),
    ("3/4", "\\frac{3}{4}", True),
    ("x/2", "x/2", True),  # _fix_a_slash_b raises; the raw-normalized fallback matches
    ("5.00", "5", True),
    ("5", None, False),  # reference solution without \boxed
    ("٥", "5", False),  # Arabic-Indic five is not '5'
    ("(2,5)", "[2,5)", False),
    ("x=3", "3", True),  # 'x=' prefix of at most 2 characters is dropped
]


@pytest.mark.parametrize("output,expected", EXTRACT_PAIRS)
def test_extract_pairs(output, expected):
    assert MOD.extract(output) == expected


@pytest.mark.parametrize("pred,ref,verdict", EQUIV_PAIRS)
def test_equivalence_pairs(pred, ref, verdict):
    assert MOD.is_equiv(pred, ref) is verdict


def test_items_and_prompt_shape(shared_data):
    items = MOD.load_items(SPEC, shared_data)
    assert len(items) == 5000
    assert items[0].reference == "2"
    prompt = render(items[0].messages, "base")
    assert prompt.startswith(
        "Problem:\nFind the domain of the expression $\\frac{{\\sqrt{{x-2}}}}"
    )  # OC's doubled braces
    assert prompt.count("Final Answer: The final answer is") == 4
    assert prompt.endswith("vertical asymptotes does the graph of $y=\\frac{2}{x^2+x-6}$ have?\nSolution:\n")
    assert len(MOD.load_items(load_task("math:math500"), shared_data)) == 500
