"""TyDiQA parity: OpenCompass 0.5.4's tydiqa_gen_978d2a against evalfleet's `tydiqa`, every GoldP item.

OpenCompass reads flattened <lang>-dev.jsonl files; they are written here from the official GoldP
files (independently of evalfleet's loader): one row per question with passage_text, question_text
and answers. Prompts must be equal in both styles, and identical predictions (adversarial strings
plus real outputs of a tiny model) must get identical per-item EM / F1 and per-language and mean metrics.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from _compare import report, tiny_outputs

from evalfleet.benchmarks import get_module
from evalfleet.benchmarks.prompting import render
from evalfleet.spec.taskspec import load_task

pytestmark = [pytest.mark.parity, pytest.mark.slow]

CONFIG = "opencompass.configs.datasets.tydiqa.tydiqa_gen_978d2a"
LANGS = ["arabic", "bengali", "english", "finnish", "indonesian", "korean", "russian", "swahili", "telugu"]
ABBRS = [f"tydiqa-goldp_{lang}" for lang in LANGS]
SPEC = load_task("tydiqa")
MOD = get_module(SPEC)
ADVERSARIAL = [
    "",
    "\n",
    "The answer",
    "Wound care",
    "wound care.",
    "1,000",
    "٣",
    "a, b, c",
    "Paris\nLondon",
    "  spaced   out  ",
    "the the the",
    "ＡＢＣ",
    "İstanbul",
    "ß",
    "Ответ: Москва",
]


@pytest.fixture(scope="module")
def items(shared_data):
    return MOD.load_items(SPEC, shared_data)


@pytest.fixture(scope="module")
def oc_run(oc, shared_data, items, tiny_models):
    """One venv run on the flattened files OpenCompass reads: prompts (both styles) and our predictions' scores."""
    dev = oc.data_cache / "data" / "tydiqa" / "dev"
    dev.mkdir(parents=True, exist_ok=True)
    for lang in LANGS:
        doc = json.loads((shared_data / "tydiqa" / f"{lang}_tydiqa_dev.json").read_text(encoding="utf-8"))
        with open(dev / f"{lang}-dev.jsonl", "w", encoding="utf-8") as f:
            for article in doc["data"]:
                for para in article["paragraphs"]:
                    for qa in para["qas"]:
                        row = {
                            "id": qa["id"],
                            "passage_text": para["context"],
                            "question_text": qa["question"],
                            "answers": [{"text": a["text"], "start": a["answer_start"]} for a in qa["answers"]],
                        }
                        f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tiny = tiny_outputs(tiny_models["qwen2"], [render(i.messages, "base") for i in items[:3]], 12, keep_last=256)
    preds = {}
    for lang, ours in _by_lang(items).items():
        golds = [i.reference[0] for i in ours]
        # the gold answer itself, a capitalised / cut gold, adversarial strings, real tiny-model outputs
        cycle = ADVERSARIAL + tiny
        preds[lang] = [
            golds[k] if k % 4 == 0 else golds[k].upper() + ", more" if k % 4 == 1 else cycle[k % len(cycle)]
            for k in range(len(ours))
        ]
    request = {
        "shared_data": str(oc.shared_data),
        "data_cache": str(oc.data_cache),
        "config": CONFIG,
        "render": [
            {"config": CONFIG, "datasets": ABBRS, "style": ["base", "chat"], "tokenizer": str(tiny_models["llama"])}
        ],
        "datasets": {f"tydiqa-goldp_{lang}": {"predictions": preds[lang]} for lang in LANGS},
    }
    return preds, oc.items(request)


def _by_lang(items):
    return {lang: [i for i in items if i.subset == lang] for lang in LANGS}


@pytest.mark.parametrize("style", ["base", "chat"])
def test_prompts_equal(oc_run, items, tiny_models, style):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_models["llama"]) if style == "chat" else None
    got = oc_run[1]["render"][0][style]
    mismatches, compared = [], 0
    for lang, ours in _by_lang(items).items():
        theirs = got[f"tydiqa-goldp_{lang}"]
        assert len(theirs) == len(ours), lang
        for item, row in zip(ours, theirs):
            compared += 1
            if render(item.messages, style, tokenizer) != row["prompt"]:
                mismatches.append(item.id)
    report("tydiqa", f"prompts ({style})", compared, len(mismatches))
    assert not mismatches, mismatches[:5]


def test_scores_equal(oc_run, items):
    preds, result = oc_run
    got = result["scores"]
    by_lang = _by_lang(items)
    rows, mismatches = [], []
    for lang, ours in by_lang.items():
        theirs = got[f"tydiqa-goldp_{lang}"]
        for k, (item, pred) in enumerate(zip(ours, preds[lang])):
            mine = MOD.score(MOD.extract(pred), item, SPEC)
            oc_item = theirs["items"][k]
            if (mine["exact_match"] * 100, mine["f1"] * 100) != pytest.approx(
                (oc_item["exact_match"], oc_item["f1"]), abs=1e-9
            ):
                mismatches.append((item.id, pred, mine, oc_item))
            rows.append({"item_id": item.id, "subset": lang, "metrics": mine})
    agg = MOD.aggregate(pd.DataFrame(rows), SPEC)
    for lang in LANGS:
        for key in ("exact_match", "f1"):
            assert agg[f"tydiqa-goldp_{lang}_{key}"] == pytest.approx(
                got[f"tydiqa-goldp_{lang}"]["metrics"][key], abs=1e-9
            )
    oc_mean_f1 = sum(got[a]["metrics"]["f1"] for a in ABBRS) / len(ABBRS)
    assert agg["f1"] == pytest.approx(oc_mean_f1, abs=1e-9)
    report("tydiqa", "scores", len(rows), len(mismatches))
    assert not mismatches, mismatches[:5]
