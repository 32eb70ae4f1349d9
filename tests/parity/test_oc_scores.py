"""Score parity: identical predictions through OpenCompass 0.5.4's postprocessors/evaluators and
evalfleet's extract/score/aggregate, for every item of GSM8K, CommonsenseQA (both variants), BBH
(27 subtasks) and MATH (5000 + MATH-500): per-item extracted answers, verdicts and task scores.

Predictions: adversarial strings built from each item's official answer (right, wrong, empty, cut
mid-answer, several candidates, unicode digits, nested \\boxed{}, "The answer is (B) or (C)", ...)
assigned round-robin over all items, plus real outputs of a tiny random-weight model on a few items.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from evalfleet.benchmarks import aggregate, get_module
from evalfleet.commands.judge import judge
from evalfleet.spec.taskspec import load_task

pytestmark = [pytest.mark.parity, pytest.mark.slow]

OC = "opencompass.configs.datasets."
CONFIGS = {
    "gsm8k": (OC + "gsm8k.gsm8k_gen_1d7fe4", None),
    "commonsenseqa": (OC + "commonsenseqa.commonsenseqa_7shot_cot_gen_734a22", None),
    "commonsenseqa:gen_c946f2": (OC + "commonsenseqa.commonsenseqa_gen_c946f2", None),
    "bbh": (OC + "bbh.bbh_gen_5b92b0", None),
    "math": (OC + "math.math_gen_265cce", None),
    "math:math500": (OC + "math.math_gen_265cce", {"path": "math500"}),
}
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def gsm8k_predictions(row: dict) -> list[str]:
    g = row["answer"].split("#### ")[1].replace(",", "")
    wrong = str(int(g) + 1) if g.lstrip("-").isdigit() else "0"
    return [
        f"Let's compute.\nThe answer is {g}\n",
        f"The answer is {g}.0",
        f"The answer is {wrong}",
        f"The answer is {g}\n\nQuestion: What is {wrong}?",
        f"{g} or {wrong}",
        "",
        f"The answer is {g[:-1]}",
        f"The answer is {g.translate(ARABIC_INDIC)}",
        f"${g},000",
        f"-{g}",
        row["answer"],
        f"{g}/1",
        "1,234.5",
    ]


def csqa_predictions(row: dict) -> list[str]:
    k = row["answerKey"]
    return [
        f"A: The answer must be ... So the answer is {k}.",
        f"so the answer is {k.lower()}",
        "The answer is (B) or (C)",
        f"So the answer is ({k})",
        f"So the answer is A. So the answer is {k}.",
        "",
        "So the answ",
        k,
        f"so the answer is: {k}",
        f"So the answer is\n{k}",
        "Ｂ",
        "so the answer is P",
        f" {k} because",
    ]


def bbh_predictions(ex: dict) -> list[str]:
    t = ex["target"]
    return [
        f"Let's think step by step. So the answer is {t}.",
        f"the answer is **{t}**",
        "The answer is (B) or (C)",
        t,
        f"So the answer is {t.lower()}",
        "",
        "So the ans",
        f"answer is: {t}\nmore text",
        f"The answer is {t}. The answer is (A).",
        f"So the answer is {t.upper()}",
        f"the answer is {t}, {t}",
        "So the answer is (Ａ).",
    ]


def math_predictions(row: dict) -> list[str]:
    from evalfleet.benchmarks.math import extract_boxed_answer

    s = row["solution"]
    a = extract_boxed_answer(s) or "0"
    return [
        s,
        s[: len(s) // 2],
        s + " \\boxed{0}",
        f"\\boxed{{{{{a}}}}}",
        f"\\boxed{{\\boxed{{{a}}}}}",
        "The answer is 0.5",
        "",
        f"Final Answer: The final answer is ${a}$. I hope it is correct.",
        f"\\fbox{{{a}}}",
        f"\\boxed{{{a.translate(ARABIC_INDIC)}}}",
        f"The answer is {a}",
        f"\\boxed{{{a} }}.",
        f"$\\boxed{{\\dfrac{{{a}}}{{1}}}}$",
    ]


def official_rows(task_id: str, shared_data) -> dict[str, list[dict]]:
    """{OpenCompass abbr: the official records in file order}."""
    if task_id == "gsm8k":
        return {"gsm8k": _jsonl(shared_data / "gsm8k/test.jsonl")}
    if task_id.startswith("commonsenseqa"):
        return {"commonsense_qa": _jsonl(shared_data / "commonsenseqa/dev_rand_split.jsonl")}
    if task_id == "bbh":
        spec = load_task("bbh")
        names = list(spec.options["multiple_choice"]) + list(spec.options["free_form"])
        return {f"bbh-{n}": json.loads((shared_data / f"bbh/bbh/{n}.json").read_text())["examples"] for n in names}
    file = "math/math500_test.jsonl" if task_id == "math:math500" else "math/math_test_5000.jsonl"
    return {"math": _jsonl(shared_data / file)}


def _jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


BUILDERS = {
    "gsm8k": gsm8k_predictions,
    "commonsenseqa": csqa_predictions,
    "bbh": bbh_predictions,
    "math": math_predictions,
}


def adversarial(task_id: str, shared_data) -> dict[str, list[str]]:
    """{abbr: one prediction per item}: item i gets the (i mod n)-th of its n built predictions."""
    build = BUILDERS[task_id.split(":")[0]]
    out = {}
    for abbr, rows in official_rows(task_id, shared_data).items():
        out[abbr] = [build(row)[(i + len(abbr)) % len(build(row))] for i, row in enumerate(rows)]
    return out


@pytest.fixture(scope="module")
def tiny_outputs(tiny_models, shared_data) -> dict[str, dict[str, list[str]]]:
    """Greedy outputs of a tiny random-weight model (transformers, base style) on the first 3 items of each abbr."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evalfleet.benchmarks.prompting import render

    tok = AutoTokenizer.from_pretrained(tiny_models["qwen2"])
    model = AutoModelForCausalLM.from_pretrained(tiny_models["qwen2"]).eval()
    out: dict[str, dict[str, list[str]]] = {}
    for task_id in CONFIGS:
        spec = load_task(task_id)
        items = get_module(spec).load_items(spec, shared_data)
        groups: dict[str, list] = {}
        for item in items:
            groups.setdefault(f"bbh-{item.subset}" if task_id == "bbh" else "", []).append(item)
        out[task_id] = {}
        for abbr, group in list(groups.items())[:3]:
            texts = []
            for item in group[:3]:
                ids = tok(render(item.messages, "base"), return_tensors="pt").input_ids[:, -1024:]
                with torch.no_grad():
                    gen = model.generate(ids, max_new_tokens=24, do_sample=False, pad_token_id=tok.pad_token_id)
                texts.append(tok.decode(gen[0, ids.shape[1] :], skip_special_tokens=True))
            out[task_id][abbr] = texts
    return out


def abbr_for(task_id: str, abbr: str) -> str:
    return abbr if abbr else {"gsm8k": "gsm8k", "math": "math"}.get(task_id.split(":")[0], "commonsense_qa")


@pytest.fixture(scope="module")
def judged(oc, shared_data, tiny_outputs) -> dict:
    """OpenCompass's verdicts for every job, from one start of the parity venv."""
    jobs, keys = [], []
    for task_id, (config, overrides) in CONFIGS.items():
        preds = adversarial(task_id, shared_data)
        jobs.append(
            {
                "config": config,
                "overrides": overrides,
                "datasets": {abbr: {"indices": None, "predictions": p} for abbr, p in preds.items()},
            }
        )
        keys.append((task_id, "adversarial", preds))
        tiny = {abbr_for(task_id, a): p for a, p in tiny_outputs[task_id].items()}
        jobs.append(
            {
                "config": config,
                "overrides": overrides,
                "datasets": {abbr: {"indices": list(range(len(p))), "predictions": p} for abbr, p in tiny.items()},
            }
        )
        keys.append((task_id, "tiny", tiny))
    answers = oc.score_many(jobs)
    return {(task_id, kind): (preds, answer) for (task_id, kind, preds), answer in zip(keys, answers)}


def evalfleet_rows(task_id: str, shared_data, preds: dict[str, list[str]]) -> pd.DataFrame:
    spec = load_task(task_id)
    items = get_module(spec).load_items(spec, shared_data)
    by_abbr: dict[str, list] = {}
    for item in items:
        by_abbr.setdefault(f"bbh-{item.subset}" if task_id == "bbh" else abbr_for(task_id, ""), []).append(item)
    predictions = [
        {"item_id": by_abbr[abbr][i].id, "prediction": p} for abbr, ps in preds.items() for i, p in enumerate(ps)
    ]
    rows = judge(spec, items, predictions)
    rows["abbr"] = [abbr for abbr, ps in preds.items() for _ in ps]
    return rows


@pytest.mark.parametrize("kind", ["adversarial", "tiny"])
@pytest.mark.parametrize("task_id", list(CONFIGS))
def test_scores_equal_opencompass(task_id, kind, judged, shared_data):
    preds, theirs = judged[(task_id, kind)]
    spec = load_task(task_id)
    rows = evalfleet_rows(task_id, shared_data, preds)
    free_form = {f"bbh-{n}" for n in spec.options.get("free_form", [])}
    mismatched_scores, mismatched_extracted, compared = [], [], 0
    for abbr, result in theirs.items():
        ours = rows[rows["abbr"] == abbr].reset_index(drop=True)
        assert len(ours) == len(result["correct"])
        for i, (ok, ext) in enumerate(zip(result["correct"], result["extracted"])):
            compared += 1
            if float(ok) != ours.loc[i, "score"]:
                mismatched_scores.append((abbr, i, preds[abbr][i], ext, ours.loc[i, "extracted"]))
            # Free-form BBH has no pred_postprocessor in OpenCompass (its evaluator post-processes).
            if abbr not in free_form and ext != ours.loc[i, "extracted"]:
                mismatched_extracted.append((abbr, i, preds[abbr][i], ext, ours.loc[i, "extracted"]))
    print(
        f"PARITY scores {task_id} {kind}: compared {compared}, score mismatches {len(mismatched_scores)}, "
        f"extraction mismatches {len(mismatched_extracted)}, items right {int(rows['score'].sum())}"
    )
    assert not mismatched_scores, mismatched_scores[:5]
    assert not mismatched_extracted, mismatched_extracted[:5]
    # Task score: OpenCompass's metric (BBH: the plain mean of its 27 subtask scores) vs evalfleet's aggregate.
    ours = aggregate(rows.drop(columns="abbr"), spec)
    if task_id == "bbh":
        per_subtask = {abbr: r["metrics"]["score"] for abbr, r in theirs.items()}
        for abbr, value in per_subtask.items():
            assert ours[abbr] == pytest.approx(value, abs=1e-9)
        assert ours["accuracy"] == pytest.approx(sum(per_subtask.values()) / len(per_subtask), abs=1e-9)
    else:
        (result,) = theirs.values()
        assert ours["accuracy"] == pytest.approx(result["metrics"]["accuracy"], abs=1e-9)
