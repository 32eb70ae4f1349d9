"""LongBench parity: OpenCompass 0.5.4's longbench_<subset>_gen configs against evalfleet's `longbench`.

Every item of the three subsets in ../shared/data (multi_news, multifieldqa_zh, passage_retrieval_zh):
prompts equal in both styles, and identical predictions (adversarial strings, gold-answer variants and
real outputs of a tiny model) get identical extracted answers, per-item scores and subset scores from
OpenCompass's post-processors and LongBench*Evaluator (one item alone gives that item's term).
OpenCompass reads the subsets through the hub's loading script; a local stand-in
(oc/longbench_hf_builder.py) is placed in its data cache with the files.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pandas as pd
import pytest
from _compare import report, tiny_outputs

from evalfleet.benchmarks import get_module
from evalfleet.benchmarks.prompting import render
from evalfleet.spec.taskspec import load_task

pytestmark = [pytest.mark.parity, pytest.mark.slow]

CONFIG = "opencompass.configs.datasets.longbench.longbench"
SUBSETS = ["multi_news", "multifieldqa_zh", "passage_retrieval_zh"]
ABBRS = [f"LongBench_{s}" for s in SUBSETS]
OC_DIR = Path(__file__).resolve().parent / "oc"
ADVERSARIAL = {
    "multi_news": [
        "",
        " ",
        "NEWLINE_CHAR NEWLINE_CHAR",
        "Summary:\n",
        "The the the.",
        "...",
        "\n\nA line.\nAnother line.",
    ],
    "multifieldqa_zh": [
        "",
        "厦门大学",
        "答案是：厦门大学。",
        "Xiamen University",
        "厦门",
        "，。！",
        "北京大学和厦门大学",
    ],
    "passage_retrieval_zh": [
        "",
        "段落27",
        "段落2和段落27",
        "27",
        "段落",
        "Paragraph 27",
        "答案是：段落27\n段落3",
        "段落٣",
    ],
}


@pytest.fixture(scope="module")
def spec():
    base = load_task("longbench")
    return dataclasses.replace(
        base, options={**base.options, "subsets": SUBSETS}, data_files=tuple(f"longbench/{s}.jsonl" for s in SUBSETS)
    )


@pytest.fixture(scope="module")
def by_subset(spec, shared_data):
    items = get_module(spec).load_items(spec, shared_data)
    return {s: [i for i in items if i.subset == s] for s in SUBSETS}


@pytest.fixture(scope="module")
def oc_run(oc, shared_data, by_subset, tiny_models):
    """One venv run: OpenCompass's prompts (both styles) and its scores of our predictions."""
    root = oc.data_cache / "data" / "Longbench"
    (root / "data").mkdir(parents=True, exist_ok=True)
    shutil.copy(OC_DIR / "longbench_hf_builder.py", root / "Longbench.py")
    for subset in SUBSETS:
        link = root / "data" / f"{subset}.jsonl"
        if not link.exists():
            link.symlink_to((shared_data / "longbench" / f"{subset}.jsonl").resolve())
    tiny = tiny_outputs(
        tiny_models["qwen2"], [render(ours[0].messages, "base") for ours in by_subset.values()], 16, keep_last=256
    )
    preds = {}
    for subset, ours in by_subset.items():
        cycle = ADVERSARIAL[subset] + tiny
        out = []
        for k, item in enumerate(ours):
            gold = item.reference["answers"][0][:400]  # long enough for ROUGE, short enough to stay fast
            out.append([gold, gold[: len(gold) // 2], "\n" + gold + "\nmore", cycle[k % len(cycle)]][k % 4])
        preds[subset] = out
    request = {
        "shared_data": str(oc.shared_data),
        "data_cache": str(oc.data_cache),
        "config": CONFIG,
        "render": [
            {"config": CONFIG, "datasets": ABBRS, "style": ["base", "chat"], "tokenizer": str(tiny_models["llama"])}
        ],
        "datasets": {f"LongBench_{s}": {"predictions": preds[s]} for s in SUBSETS},
    }
    return preds, oc.items(request)


@pytest.mark.parametrize("style", ["base", "chat"])
def test_prompts_equal(oc_run, by_subset, tiny_models, style):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_models["llama"]) if style == "chat" else None
    got = oc_run[1]["render"][0][style]
    mismatches, compared = [], 0
    for subset, ours in by_subset.items():
        theirs = got[f"LongBench_{subset}"]
        assert len(theirs) == len(ours) == 200
        for item, row in zip(ours, theirs):
            compared += 1
            if render(item.messages, style, tokenizer) != row["prompt"]:
                mismatches.append(item.id)
    report("longbench", f"prompts ({style})", compared, len(mismatches))
    assert not mismatches, mismatches[:5]


def test_scores_equal(oc_run, spec, by_subset):
    mod = get_module(spec)
    preds, result = oc_run
    got = result["scores"]
    rows, mismatches = [], []
    for subset, ours in by_subset.items():
        theirs = got[f"LongBench_{subset}"]
        for k, (item, pred) in enumerate(zip(ours, preds[subset])):
            extracted = mod.extract(pred, item, spec)
            mine = mod.score(extracted, item, spec)
            if extracted != theirs["extracted"][k] or abs(mine["score"] * 100 - theirs["items"][k]["score"]) > 1e-9:
                mismatches.append((item.id, pred[:40], mine, theirs["items"][k]))
            rows.append({"item_id": item.id, "subset": subset, "metrics": mine})
    agg = mod.aggregate(pd.DataFrame(rows), spec)
    for subset in SUBSETS:
        assert agg[f"LongBench_{subset}"] == pytest.approx(got[f"LongBench_{subset}"]["metrics"]["score"], abs=1e-9)
    # one subset per category here, so OpenCompass's `longbench` group is the mean of the three
    assert agg["score"] == pytest.approx(sum(got[a]["metrics"]["score"] for a in ABBRS) / 3, abs=1e-9)
    report("longbench", "scores", len(rows), len(mismatches))
    assert not mismatches, mismatches[:3]
