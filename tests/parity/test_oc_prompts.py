"""Prompt parity: every item of GSM8K, CommonsenseQA (both variants), BBH (27 subtasks) and MATH
(5000 + MATH-500), rendered by OpenCompass 0.5.4 and by evalfleet, base and chat style, string-equal."""

from __future__ import annotations

import pytest

from evalfleet.benchmarks import get_module
from evalfleet.benchmarks.prompting import render
from evalfleet.spec.taskspec import load_task

pytestmark = [pytest.mark.parity, pytest.mark.slow]

OC = "opencompass.configs.datasets."
# evalfleet task id -> (OpenCompass config, extra render arguments)
CASES = {
    "gsm8k": (OC + "gsm8k.gsm8k_gen_1d7fe4", {}),
    "commonsenseqa": (OC + "commonsenseqa.commonsenseqa_7shot_cot_gen_734a22", {}),
    # MDLRetriever needs the train split and gpt2-xl; the variant renders the template with no
    # in-context examples, which is what OpenCompass renders with ZeroRetriever.
    "commonsenseqa:gen_c946f2": (
        OC + "commonsenseqa.commonsenseqa_gen_c946f2",
        {"retriever": {"type": "ZeroRetriever"}},
    ),
    "bbh": (OC + "bbh.bbh_gen_5b92b0", {}),
    "math": (OC + "math.math_gen_265cce", {}),
    "math:math500": (OC + "math.math_gen_265cce", {"overrides": {"path": "math500"}}),
}


def evalfleet_prompts(task_id, shared_data, style, tokenizer) -> dict[str, list[str]]:
    """{subset: prompts in file order} ('' for tasks without subsets)."""
    spec = load_task(task_id)
    out: dict[str, list[str]] = {}
    for item in get_module(spec).load_items(spec, shared_data):
        out.setdefault(item.subset if task_id == "bbh" else "", []).append(render(item.messages, style, tokenizer))
    return out


@pytest.fixture(scope="module")
def tokenizer(tiny_models):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_models["llama"])


@pytest.fixture(scope="module")
def rendered(oc, tiny_models) -> dict:
    """OpenCompass's prompts for every case, both styles, from one start of the parity venv."""
    jobs = [
        {"config": config, "style": ["base", "chat"], "tokenizer": tiny_models["llama"], **extra}
        for config, extra in CASES.values()
    ]
    return dict(zip(CASES, oc.render_many(jobs)))


@pytest.mark.parametrize("task_id", list(CASES))
def test_prompts_equal_opencompass(task_id, rendered, shared_data, tokenizer, record_property):
    theirs = rendered[task_id]
    for style in ("base", "chat"):
        ours = evalfleet_prompts(task_id, shared_data, style, tokenizer)
        compared, mismatched = 0, []
        for abbr, rows in theirs[style].items():
            mine = ours[abbr.removeprefix("bbh-") if task_id == "bbh" else ""]
            assert len(rows) == len(mine), f"{abbr}: OpenCompass has {len(rows)} items, evalfleet {len(mine)}"
            for row in rows:
                compared += 1
                if mine[row["index"]] != row["prompt"]:
                    mismatched.append((abbr, row["index"]))
        record_property(f"{style}_compared", compared)
        print(f"PARITY prompts {task_id} {style}: compared {compared}, mismatches {len(mismatched)}")
        assert not mismatched, f"{style}: {len(mismatched)} prompts differ, first {mismatched[:3]}"
    assert compared == sum(len(v) for v in ours.values())
