"""T-Eval plan scores with sentence-embedding similarity: OpenCompass 0.5.4's PlanningEvaluator against evalfleet's
`teval:embedding`, on every item of plan_json_v1 and plan_str_v1 (553 + 553).

The model: all-mpnet-base-v2 cannot be fetched here, so both sides load the same locally built stand-in
(tests/parity/tiny_sentence_model.py: a seeded random BERT, mean pooling, normalization — all-mpnet-base-v2's
module layout), OpenCompass through `PlanningEvaluator('', bert_score_model=<dir>)` in .venv-parity
(sentence-transformers 5.7, transformers 4, numpy 1; tests/parity/oc/teval_plan_embedding.py) and evalfleet
through `options.embedding_model: <dir>` in the core environment (sentence-transformers from the
`teval-embedding` extra, transformers 5, numpy 2). Nothing else of OpenCompass's computation is changed.

Predictions: the ones test_parity_teval.py builds (right, partial, reordered, fenced, prose-wrapped, wrong-args,
garbage, FinishAction-only plans). Compared: the clipped cosine matrices of step names and args the evaluator
used (within 1e-6; 1712 matrices, equal to the bit), per-item precision/recall/f1_score/parse_rate (within
1e-12; 1037 items, 0 mismatches) and the subset metrics (within 1e-9). Pinned, as in the exact-match parity:
OpenCompass raises on a FinishAction-only JSON plan (69 items; here in util.cos_sim, since no step is left to
embed), evalfleet scores it 0 (it used to raise too: the embedding path embedded the empty step list).

The comparison is not degenerate: the stand-in's cosines between step names spread on both sides of the 0.7
match threshold (of 15,896 pairs of steps with different API names, 8,983 weigh above it, 6,913 not), and 88
items score differently from `plan_similarity: exact` — each of them identically on both sides.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _compare import report
from test_parity_teval import predictions_for
from tiny_sentence_model import build_tiny_sentence_model, teval_corpus

from evalfleet.benchmarks.teval import (
    ARGS_WEIGHT,
    MATCH_THRESHOLD,
    NAME_WEIGHT,
    aggregate,
    extract,
    load_items,
    plan_metrics,
    score,
    similarity_fn,
)
from evalfleet.spec.taskspec import load_task

OC_DIR = Path(__file__).resolve().parent / "oc"
pytestmark = [pytest.mark.parity, pytest.mark.slow]
PLAN_SUBSETS = ["plan_json_v1", "plan_str_v1"]
FINISH_ONLY = '[{"id": 0, "name": "FinishAction", "args": {}}]'


@pytest.fixture(scope="module")
def sentence_model(tmp_path_factory, shared_data):
    """The stand-in for all-mpnet-base-v2, built once; the core environment must have sentence-transformers."""
    try:
        import sentence_transformers  # noqa: F401
    except ImportError:
        pytest.fail(
            "sentence-transformers is missing from the core environment: run "
            "scripts/test-setup/25-teval-embedding.sh (pip install 'evalfleet[teval-embedding]')"
        )
    return build_tiny_sentence_model(
        tmp_path_factory.mktemp("tiny-sentence-model"), teval_corpus(shared_data / "teval")
    )


class RecordingSimilarity:
    """evalfleet's similarity function, unchanged, keeping each call's strings and matrix."""

    def __init__(self, fn):
        self.fn, self.calls = fn, []

    def __call__(self, a, b):
        out = self.fn(a, b)
        self.calls.append((a, b, out))
        return out


@pytest.fixture(scope="module")
def compared(sentence_model, parity_python, shared_data):
    items = load_items(load_task("teval"), shared_data)
    preds = {s: p for s, p in predictions_for(items).items() if s in PLAN_SUBSETS}  # test_parity_teval's predictions
    request = {"teval_dir": str(shared_data / "teval"), "embedding_model": str(sentence_model), "predictions": preds}
    proc = subprocess.run(
        [str(parity_python), str(OC_DIR / "teval_plan_embedding.py")],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=str(OC_DIR),
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    theirs = json.loads([line for line in proc.stdout.splitlines() if line.strip()][-1])
    spec = load_task("teval:embedding")
    spec = dataclasses.replace(spec, options={**spec.options, "embedding_model": str(sentence_model)})
    exact = load_task("teval")
    # score() is plan_metrics with similarity_fn(options); called here with that function recorded, so each
    # item is embedded once (score() itself is checked on the first items of each subset below)
    recorder = RecordingSimilarity(similarity_fn(spec.options["plan_similarity"], spec.options["embedding_model"]))
    mine = {}
    for subset in PLAN_SUBSETS:
        rows = []
        for k, (item, pred) in enumerate(zip([i for i in items if i.subset == subset], preds[subset])):
            extracted = extract(pred)
            recorder.calls = []
            metrics = plan_metrics(extracted, item.reference, recorder)
            metrics = {**metrics, "score": metrics["f1_score"]}
            if k < 16:
                assert score(extracted, item, spec) == metrics, item.id
            sims = {"names": recorder.calls[0], "args": recorder.calls[1]} if recorder.calls else None
            rows.append(
                {
                    "item": item,
                    "pred": pred,
                    "metrics": metrics,
                    "similarity": sims,
                    "exact": score(extracted, item, exact),
                }
            )
        mine[subset] = rows
    return mine, theirs


def test_per_item_and_subset_metrics_match(compared):
    mine, theirs = compared
    spec = load_task("teval:embedding")
    n, errors, differs_from_exact = 0, 0, 0
    for subset in PLAN_SUBSETS:
        assert len(mine[subset]) == len(theirs[subset]["items"]) == 553
        rows = []
        for row, oc_item in zip(mine[subset], theirs[subset]["items"]):
            n += 1
            metrics, item_id = row["metrics"], row["item"].id
            if "error" in oc_item:  # pinned: OpenCompass raises on a FinishAction-only plan, evalfleet scores it 0
                # (an empty list of step names embeds to a 0-length vector, which cos_sim cannot multiply)
                assert oc_item["error"].startswith("RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x0"), (
                    oc_item
                )
                assert extract(row["pred"]) == FINISH_ONLY and metrics["f1_score"] == 0.0, item_id
                errors += 1
                continue
            assert {k: v for k, v in metrics.items() if k != "score"} == pytest.approx(oc_item, abs=1e-12), item_id
            differs_from_exact += metrics != row["exact"]
            rows.append({"subset": subset, "metrics": metrics})
        got = aggregate(pd.DataFrame(rows), spec)
        assert set(theirs[subset]["metrics"]) == {"precision", "recall", "f1_score", "parse_rate"}
        for name, value in theirs[subset]["metrics"].items():
            assert got[f"{subset}/{name}"] == pytest.approx(value, abs=1e-9), (subset, name)
        report(
            "teval:embedding",
            f"{subset} f1 {got[f'{subset}/f1_score']:.4f} (OpenCompass {theirs[subset]['metrics']['f1_score']:.4f})",
            len(rows),
            0,
        )
    assert errors == len(range(7, 553, 8))  # every FinishAction-only plan_json prediction, nothing else
    report("teval:embedding", "per-item plan metrics", n - errors, 0)
    print(f"teval:embedding: {differs_from_exact} of {n - errors} items score differently from plan_similarity: exact")
    assert differs_from_exact >= 50, differs_from_exact  # the embedding path decides something exact match does not


def test_similarities_match_and_straddle_the_threshold(compared):
    mine, theirs = compared
    worst, matrices, cross_name_weights = 0.0, 0, []
    for subset in PLAN_SUBSETS:
        for row, oc_sims in zip(mine[subset], theirs[subset]["similarity"]):
            if oc_sims is None:  # an empty plan (nothing embedded) or OpenCompass's FinishAction-only error
                assert row["similarity"] is None or extract(row["pred"]) == FINISH_ONLY, row["item"].id
                continue
            assert row["similarity"] is not None, row["item"].id
            for key in ("names", "args"):
                got = np.array(row["similarity"][key][2])
                want = np.array(oc_sims[key])
                assert got.shape == want.shape, row["item"].id
                worst = max(worst, float(np.abs(got - want).max()))
                matrices += 1
            pred_names, gt_names, names = row["similarity"]["names"]
            weights = NAME_WEIGHT * np.array(names) + ARGS_WEIGHT * np.array(row["similarity"]["args"][2])
            cross_name_weights += [
                weights[i][j] for i, p in enumerate(pred_names) for j, g in enumerate(gt_names) if p != g
            ]
    assert worst <= 1e-6, worst
    report("teval:embedding", f"clipped cosine matrices (max |diff| {worst:.1e})", matrices, 0)
    cross = np.array(cross_name_weights)
    above, below = int((cross > MATCH_THRESHOLD).sum()), int((cross <= MATCH_THRESHOLD).sum())
    print(f"teval:embedding: step pairs with different names: {above} weigh above 0.7, {below} at or below")
    assert above >= 100 and below >= 100, (above, below)
