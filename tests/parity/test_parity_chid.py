"""CHID parity: OpenCompass 0.5.4's FewCLUE_chid_gen_0a29a2 / FewCLUE_chid_ppl_8f2872 against evalfleet's `chid`.

Every item of chid-dev (202) and chid-test (2002): gen prompts equal in both styles; the ppl variant's
7 texts per item equal OpenCompass's PPLInferencer label prompts (base style); identical predictions
get identical extracted letters, references, per-item verdicts and split accuracies (OpenCompass's
AccEvaluator on the whole list; per item, its rule str(prediction) == str(reference) on OpenCompass's
own extracted answers and references, since one-item AccEvaluator runs cost ~0.1 s each).
"""

from __future__ import annotations

import pandas as pd
import pytest
from _compare import report, tiny_outputs

from evalfleet.benchmarks import get_module
from evalfleet.benchmarks.prompting import render
from evalfleet.spec.taskspec import load_task

pytestmark = [pytest.mark.parity, pytest.mark.slow]

GEN = "opencompass.configs.datasets.FewCLUE_chid.FewCLUE_chid_gen_0a29a2"
PPL = "opencompass.configs.datasets.FewCLUE_chid.FewCLUE_chid_ppl_8f2872"
SPLITS = ["chid-dev", "chid-test"]
SPEC, PPL_SPEC = load_task("chid"), load_task("chid:ppl")
MOD = get_module(SPEC)
ADVERSARIAL = [
    "",
    "A",
    "答案是B",
    "c",
    "Ｃ",
    "答：D。",
    "E或F",
    "选G",
    "The answer is (B) or (C)",
    "ä",
    "Ω",
    "无法选择",
    "\nF",
]


@pytest.fixture(scope="module")
def by_split(shared_data):
    gen, ppl = MOD.load_items(SPEC, shared_data), MOD.load_items(PPL_SPEC, shared_data)
    return (
        {s: [i for i in gen if i.subset == s] for s in SPLITS},
        {s: [i for i in ppl if i.subset == s] for s in SPLITS},
    )


@pytest.fixture(scope="module")
def oc_run(oc, shared_data, by_split, tiny_models):
    """One venv run: gen prompts (both styles), ppl label texts (base) and the scores of our predictions."""
    root = oc.data_cache / "data" / "FewCLUE" / "chid"
    root.mkdir(parents=True, exist_ok=True)
    for name in ("dev_few_all.json", "test_public.json"):
        if not (root / name).exists():
            (root / name).symlink_to((shared_data / "chid" / name).resolve())
    gen = by_split[0]
    tiny = tiny_outputs(
        tiny_models["qwen2"], [render(ours[0].messages, "base") for ours in gen.values()], 24, keep_last=256
    )
    cycle = ADVERSARIAL + tiny
    preds = {
        split: [item.reference if k % 3 == 0 else cycle[k % len(cycle)] for k, item in enumerate(ours)]
        for split, ours in gen.items()
    }
    request = {
        "shared_data": str(oc.shared_data),
        "data_cache": str(oc.data_cache),
        "config": GEN,
        "render": [
            {"config": GEN, "datasets": SPLITS, "style": ["base", "chat"], "tokenizer": str(tiny_models["llama"])},
            {"config": PPL, "datasets": SPLITS, "style": "base", "mode": "ppl"},
        ],
        "per_item": False,
        "references": True,
        "datasets": {s: {"predictions": preds[s]} for s in SPLITS},
    }
    return preds, oc.items(request)


@pytest.mark.parametrize("style", ["base", "chat"])
def test_gen_prompts_equal(oc_run, by_split, tiny_models, style):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_models["llama"]) if style == "chat" else None
    got = oc_run[1]["render"][0][style]
    mismatches, compared = [], 0
    for split, ours in by_split[0].items():
        assert len(got[split]) == len(ours)
        for item, row in zip(ours, got[split]):
            compared += 1
            if render(item.messages, style, tokenizer) != row["prompt"]:
                mismatches.append(item.id)
    report("chid", f"gen prompts ({style})", compared, len(mismatches))
    assert not mismatches, mismatches[:5]


def test_ppl_prompts_equal(oc_run, by_split):
    got = oc_run[1]["render"][1]
    mismatches, compared = [], 0
    for split, ours in by_split[1].items():
        theirs: dict[int, dict[str, str]] = {}
        for row in got[split]:
            theirs.setdefault(row["index"], {})[row["label"]] = row["prompt"]
        assert len(theirs) == len(ours)
        for k, item in enumerate(ours):
            compared += 1
            if [theirs[k][str(label)] for label in range(7)] != list(item.choices):
                mismatches.append(item.id)
    report("chid", "ppl label texts (base)", compared, len(mismatches))
    assert not mismatches, mismatches[:5]


def test_gen_scores_equal(oc_run, by_split):
    preds, result = oc_run
    got = result["scores"]
    rows, mismatches = [], []
    for split, ours in by_split[0].items():
        for k, (item, pred) in enumerate(zip(ours, preds[split])):
            extracted = MOD.extract(pred, item, SPEC)
            mine = MOD.score(extracted, item, SPEC)
            # AccEvaluator's verdict for one item is str(prediction) == str(reference); OpenCompass's
            # extracted answer and reference are compared here, its evaluator checks the accuracies below.
            oc_extracted, oc_ref = got[split]["extracted"][k], got[split]["references"][k]
            if (
                extracted != oc_extracted
                or item.reference != oc_ref
                or mine["accuracy"] != float(str(oc_extracted) == str(oc_ref))
            ):
                mismatches.append((item.id, pred, extracted, oc_extracted))
            rows.append({"item_id": item.id, "subset": split, "metrics": mine})
    agg = MOD.aggregate(pd.DataFrame(rows), SPEC)
    for split in SPLITS:
        assert agg[split] == pytest.approx(got[split]["metrics"]["accuracy"], abs=1e-9)
    assert agg["accuracy"] == agg["chid-test"]
    report("chid", "gen scores", len(rows), len(mismatches))
    assert not mismatches, mismatches[:5]
