"""T-Eval parity with OpenCompass 0.5.4 (teval_en_gen_1ac254) on every item of the three v1 files.

Prompts: OpenCompass's ChatInferencer path (tests/parity/oc/teval_chat.py) against evalfleet's render, base
and chat style (a tiny checkpoint's chat template). Scores: identical predictions — built per item from its
reference (right, partial, reordered, fenced, prose-wrapped, wrong-args, garbage, FinishAction-only plans;
review answers in several forms) — through OpenCompass's teval_postprocess and TEvalEvaluator and through
evalfleet's teval module: same extracted text, same per-item metrics, same subset metrics.

The one substitution: OpenCompass's PlanningEvaluator embeds plan steps with all-mpnet-base-v2 from a hub,
which is unreachable here; both sides use exact-match similarity (evalfleet `plan_similarity: exact`; an
exact one-hot encoder inside OpenCompass's evaluator). Pinned difference: a plan of only FinishAction makes
OpenCompass's evaluator raise (max() of an empty sequence); evalfleet scores it 0. The embedding path itself
(`teval:embedding` against OpenCompass's evaluator with a real sentence-transformers model, a locally built
one) is compared in test_parity_teval_embedding.py, on these same plan predictions.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalfleet.benchmarks.prompting import render
from evalfleet.benchmarks.teval import aggregate, extract, load_items, score
from evalfleet.spec.taskspec import load_task

OC_DIR = Path(__file__).resolve().parent / "oc"

pytestmark = [pytest.mark.parity, pytest.mark.slow]
SUBSETS = ["plan_json_v1", "plan_str_v1", "review_str_v1"]


def plan_json_prediction(i: int, gt: list[dict]) -> str:
    steps = [s for s in gt if s["name"] != "FinishAction"]
    cases = [
        lambda: json.dumps(gt),
        lambda: json.dumps(gt[:-2]),
        lambda: json.dumps([{**s, "id": k} for k, s in enumerate(reversed(steps))]),
        lambda: "```json\n" + json.dumps(gt) + "\n```",
        lambda: "Here is my plan:\n" + str(gt) + "\nDone.",
        lambda: json.dumps([{**s, "args": {"x": 1}} for s in gt]),
        lambda: "I cannot help with that.",
        lambda: json.dumps([{"id": 0, "name": "FinishAction", "args": {}}]),
    ]
    return cases[i % len(cases)]()


def plan_str_prediction(i: int, gt: list[dict], apis: list[str]) -> str:
    steps = [s for s in gt if s["name"] != "FinishAction"]
    cases = [
        lambda: "\n".join(f"{s['name']}({s['args']})" for s in steps),
        lambda: ". ".join(f"Call {s['name']}" for s in reversed(steps)),
        lambda: " and ".join(s["name"] for s in steps),
        lambda: "",
        lambda: f"Use {apis[0]} then stop.\nFinishAction",
    ]
    return cases[i % len(cases)]()


def review_prediction(i: int, answer: str) -> str:
    cases = [
        f"Answer: {answer}",
        "Answer: A",
        answer,
        "Answer: (C)",
        "answer: d",
        f"Thought: hmm. Answer: {answer}",
        f"```json\nAnswer: {answer}\n```",
        f"Answer: {answer}<|im_end|>extra",
        "",
    ]
    return cases[i % len(cases)]


def predictions_for(items) -> dict[str, list[str]]:
    out = {s: [] for s in SUBSETS}
    for i, item in enumerate(items):
        gt = item.reference["ground_truth"]
        if item.subset == "plan_json_v1":
            out[item.subset].append(plan_json_prediction(i, gt))
        elif item.subset == "plan_str_v1":
            out[item.subset].append(plan_str_prediction(i, gt, item.reference["meta"]["API_list"]))
        else:
            out[item.subset].append(review_prediction(i, gt["answer"]))
    return out


@pytest.fixture(scope="module")
def compared(parity_python, shared_data, tiny_models):
    items = load_items(load_task("teval"), shared_data)
    preds = predictions_for(items)
    request = {
        "teval_dir": str(shared_data / "teval"),
        "subsets": SUBSETS,
        "styles": ["base", "chat"],
        "tokenizer": str(tiny_models["llama"]),
        "predictions": preds,
    }
    proc = subprocess.run(
        [str(parity_python), str(OC_DIR / "teval_chat.py")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=900,
        cwd=str(OC_DIR),
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    answer = json.loads([line for line in proc.stdout.splitlines() if line.strip()][-1])
    return items, preds, answer


def test_prompts_match(compared, tiny_models):
    from transformers import AutoTokenizer

    items, _, answer = compared
    tokenizer = AutoTokenizer.from_pretrained(tiny_models["llama"])
    mismatches, n = [], 0
    for subset in SUBSETS:
        mine = [i for i in items if i.subset == subset]
        for style in ("base", "chat"):
            theirs = answer["prompts"][style][subset]
            assert len(theirs) == len(mine)
            for item, prompt in zip(mine, theirs):
                n += 1
                if render(item.messages, style, tokenizer if style == "chat" else None) != prompt:
                    mismatches.append((style, item.id))
    assert n == 2 * 1593 and mismatches == []


def test_scores_match(compared):
    items, preds, answer = compared
    spec = load_task("teval")
    oc_errors = 0
    for subset in SUBSETS:
        mine = [i for i in items if i.subset == subset]
        theirs = answer["scores"][subset]
        rows = []
        for item, pred, oc_item, oc_extracted in zip(mine, preds[subset], theirs["items"], theirs["extracted"]):
            extracted = extract(pred)
            assert extracted == oc_extracted, item.id
            metrics = score(extracted, item, spec)
            if "error" in oc_item:
                # pinned: OpenCompass raises on a FinishAction-only plan, evalfleet scores it 0
                assert "max() arg is an empty sequence" in oc_item["error"], item.id
                assert json.loads(pred) == [{"id": 0, "name": "FinishAction", "args": {}}]
                assert metrics["f1_score"] == 0.0
                oc_errors += 1
                continue
            assert {k: v for k, v in metrics.items() if k != "score"} == pytest.approx(oc_item, abs=1e-12), item.id
            rows.append({"subset": subset, "metrics": metrics})
        got = aggregate(pd.DataFrame(rows), spec)
        for name, value in theirs["metrics"].items():
            assert got[f"{subset}/{name}"] == pytest.approx(value, abs=1e-9), (subset, name)
    assert oc_errors == len(range(7, 553, 8))  # every FinishAction-only plan_json prediction, nothing else
    # the predictions are not trivial: every subset has right, partly right and wrong answers
    f1 = np.array(
        [
            score(extract(p), i, spec)["score"]
            for i, p in zip([i for i in items if i.subset == "plan_json_v1"], preds["plan_json_v1"])
        ]
    )
    assert (f1 == 1).any() and ((f1 > 0) & (f1 < 1)).any() and (f1 == 0).any()
