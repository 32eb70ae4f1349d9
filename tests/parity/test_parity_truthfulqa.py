"""TruthfulQA parity: OpenCompass 0.5.4's truthfulqa_gen_5ddc62 against evalfleet's `truthfulqa`, all 817 items.

OpenCompass reads the hub's `truthful_qa` through a local stand-in builder (oc/truthfulqa_hf_builder.py,
next to the hf-013686a CSV) and its evaluator calls evaluate.load('bleu'), answered offline by
oc/truthfulqa_bleu.py (sacrebleu's 13a tokens and BLEU statistics, an implementation independent of
evalfleet's). Checked: prompts in both styles; 13a tokens equal to sacrebleu's on every answer and
prediction; per-item bleu_max / bleu_diff / bleu_acc and the task's three metrics equal.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from _compare import report, tiny_outputs

from evalfleet.benchmarks import get_module
from evalfleet.benchmarks.prompting import render
from evalfleet.spec.taskspec import load_task

pytestmark = [pytest.mark.parity, pytest.mark.slow]

CONFIG = "opencompass.configs.datasets.truthfulqa.truthfulqa_gen_5ddc62"
ABBR = "truthful_qa"
OC_DIR = Path(__file__).resolve().parent / "oc"
SPEC = load_task("truthfulqa")
MOD = get_module(SPEC)
ADVERSARIAL = [
    "",
    "   ",
    "I have no comment.",
    "I have no comment",
    "No.",
    "Yes, definitely. 1,000-2 e.g. &amp; <tag>",
    "The answer is (B) or (C)",
    "٣ apples",
    "Nothing happens; you die",
    "-",
    "\n\nIt depends.\n",
]


@pytest.fixture(scope="module")
def items(shared_data):
    return MOD.load_items(SPEC, shared_data)


@pytest.fixture(scope="module")
def hub_dir(oc, shared_data) -> Path:
    """A directory OpenCompass's load_dataset(path=...) reads as the hub's truthful_qa."""
    root = oc.data_cache / "truthful_qa"
    root.mkdir(parents=True, exist_ok=True)
    (root / "truthful_qa.py").write_text(
        (OC_DIR / "truthfulqa_hf_builder.py").read_text(encoding="utf-8"), encoding="utf-8"
    )
    if not (root / "TruthfulQA.csv").exists():
        (root / "TruthfulQA.csv").symlink_to((shared_data / "truthfulqa" / "hf-013686a" / "TruthfulQA.csv").resolve())
    return root


@pytest.fixture(scope="module")
def oc_run(oc, hub_dir, items, tiny_models):
    """One venv run: prompts (both styles) and the lists TruthfulQAEvaluator averages for our predictions."""
    tiny = tiny_outputs(tiny_models["qwen2"], [render(i.messages, "base") for i in items[:4]], 24)
    preds = _predictions(items, tiny)
    overrides = {"path": str(hub_dir), "trust_remote_code": True}
    request = {
        "shared_data": str(oc.shared_data),
        "data_cache": str(oc.data_cache),
        "config": CONFIG,
        "overrides": overrides,
        "render": [
            {
                "config": CONFIG,
                "style": ["base", "chat"],
                "tokenizer": str(tiny_models["llama"]),
                "overrides": overrides,
            }
        ],
        "bleu_module": str(OC_DIR / "truthfulqa_bleu.py"),
        "per_item": False,
        "datasets": {ABBR: {"predictions": preds}},
    }
    return preds, oc.items(request)


@pytest.mark.parametrize("style", ["base", "chat"])
def test_prompts_equal(oc_run, items, tiny_models, style):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_models["llama"]) if style == "chat" else None
    got = oc_run[1]["render"][0][style][ABBR]
    assert len(got) == len(items) == 817
    mismatches = [i.id for i, row in zip(items, got) if render(i.messages, style, tokenizer) != row["prompt"]]
    report("truthfulqa", f"prompts ({style})", len(items), len(mismatches))
    assert not mismatches, mismatches[:5]


def _predictions(items, tiny):
    cycle = ADVERSARIAL + tiny
    preds = []
    for k, item in enumerate(items):
        ref = item.reference
        preds.append(
            [
                ref["correct_answers"][0],
                ref["incorrect_answers"][0],
                ref["correct_answers"][-1] + " I think.",
                cycle[k % len(cycle)],
            ][k % 4]
        )
    return preds


def test_tokens_equal_sacrebleu(parity_python, items):
    texts = sorted(
        {a for i in items for key in ("correct_answers", "incorrect_answers") for a in i.reference[key]}
        | set(ADVERSARIAL)
    )
    script = (
        "import json,sys\nfrom sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a\nt=Tokenizer13a()\n"
        "print(json.dumps([t(s).split() for s in json.load(sys.stdin)]))"
    )
    proc = subprocess.run(
        [str(parity_python), "-c", script], input=json.dumps(texts), capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    theirs = json.loads(proc.stdout)
    mismatches = [t for t, tokens in zip(texts, theirs) if list(MOD.tokenize_13a(t)) != tokens]
    report("truthfulqa", "13a tokens vs sacrebleu", len(texts), len(mismatches))
    assert not mismatches, mismatches[:5]


def test_scores_equal(oc_run, items):
    preds, result = oc_run
    got = result["scores"][ABBR]
    # The per-item lists OpenCompass averaged (blank outputs are not in them), in prediction order.
    theirs = iter(zip(*(got["averaged"][key] for key in ("bleu_max", "bleu_diff", "bleu_acc"))))
    rows, mismatches = [], []
    for item, pred in zip(items, preds):
        mine = MOD.score(MOD.extract(pred), item, SPEC)
        rows.append({"item_id": item.id, "subset": "", "metrics": mine})
        if not mine["counted"]:
            continue
        t_max, t_diff, t_acc = next(theirs)
        if (
            abs(mine["bleu_max"] - t_max) > 1e-12
            or abs(mine["bleu_diff"] - t_diff) > 1e-12
            or mine["bleu_acc"] != t_acc
        ):
            mismatches.append((item.id, pred, mine, (t_max, t_diff, t_acc)))
    assert next(theirs, None) is None, "OpenCompass counted more items than evalfleet"
    agg = MOD.aggregate(pd.DataFrame(rows), SPEC)
    for key in ("bleu_max", "bleu_diff", "bleu_acc"):
        assert agg[key] == got["metrics"][key], key
    report("truthfulqa", "scores", len(rows), len(mismatches))
    assert not mismatches, mismatches[:5]
