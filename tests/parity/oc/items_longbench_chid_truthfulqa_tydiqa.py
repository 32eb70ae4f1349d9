"""Per-item OpenCompass scores for LongBench, CHID, TruthfulQA and TyDiQA (runs INSIDE .venv-parity).

score.py gives per-item verdicts (bool); these tasks need per-item *values* (F1, ROUGE, BLEU). For
each dataset this runs OpenCompass's OpenICLEvalTask path (loader, pred_postprocessor, evaluator) on
the whole prediction list, and the same evaluator on each item alone: for evaluators that report
sum / n * 100 (LongBench, TyDiQA) the one-item result is that item's term.

Request (stdin JSON): as score.py, plus `bleu_module` (a path: copied to <tmp>/bleu/bleu.py, and the
evaluator runs from <tmp>, so that evaluate.load('bleu') loads it offline), and optionally `render`:
a list of render.py requests done in the same process (OpenCompass is imported once).
Response: {"render": [render.py's answer per job], "scores": {abbr: {"extracted": [...],
"items": [{metric: value} or null], "metrics": {...}}}}
(null: OpenCompass raised on that item alone, e.g. TruthfulQA's mean over zero counted items).
With `"per_item": false` the one-item runs are skipped ("items": null); with `"references": true`
the references after OpenCompass's dataset post-processing are returned too. For TruthfulQA the response
also has "averaged": the lists TruthfulQAEvaluator.basic_score averages ({metric: [value per counted
item]}, unrounded), recorded from the whole-list run by wrapping the module's `sum`.
"""

from __future__ import annotations

import copy
import os
import shutil
import tempfile

from _common import abbr_of, dataset_cfgs, quiet_stdout, read_request, setup_env, write_response
from render import render_request
from score import make_task, numeric


def evaluator_of(task):
    from opencompass.registry import ICL_EVALUATORS

    cfg = copy.deepcopy(task.eval_cfg["evaluator"])
    kind = cfg.pop("type")
    return ICL_EVALUATORS.get(kind)(**cfg) if isinstance(kind, str) else kind(**cfg)


def cache_metric_modules() -> None:
    """evaluate.load once per module path: the per-item runs call evaluators thousands of times, and
    OpenCompass's AccEvaluator / TruthfulQAEvaluator load their metric module on every call."""
    import functools

    import evaluate

    evaluate.load = functools.lru_cache(maxsize=None)(evaluate.load)


def record_truthfulqa_means() -> list:
    """Wrap opencompass.datasets.truthfulqa's `sum` so the lists its `mean` averages are kept, in call order."""
    import builtins

    import opencompass.datasets.truthfulqa as tqa

    seen: list = []

    def recording_sum(values, *args):
        seen.append(list(values))
        return builtins.sum(values, *args)

    tqa.sum = recording_sum
    return seen


def release_truthfulqa_means() -> None:
    import opencompass.datasets.truthfulqa as tqa

    tqa.__dict__.pop("sum", None)


def main() -> None:
    from opencompass.utils import build_dataset_from_cfg  # noqa: F401  (registers loaders)

    cache_metric_modules()
    req = read_request()
    setup_env(req)
    if req.get("bleu_module"):
        tmp = tempfile.mkdtemp(prefix="oc-bleu-")
        os.makedirs(os.path.join(tmp, "bleu"))
        shutil.copy(req["bleu_module"], os.path.join(tmp, "bleu", "bleu.py"))
        os.chdir(tmp)
    out = {}
    with quiet_stdout():
        rendered = [render_request(job) for job in req.get("render", [])]
        for cfg in (
            dataset_cfgs(req["config"], list(req["datasets"]), req.get("overrides")) if req.get("datasets") else []
        ):
            abbr = abbr_of(cfg)
            task = make_task(cfg)
            test_set = task._load_and_preprocess_test_data()
            predictions = list(req["datasets"][abbr]["predictions"])
            extracted = task._process_predictions(copy.deepcopy(predictions))
            averaged = record_truthfulqa_means()
            metrics = numeric(
                task._evaluate_predictions(copy.deepcopy(extracted), test_set, [{"prediction": p} for p in predictions])
            )
            release_truthfulqa_means()
            refs = test_set[task.output_column]
            items = None
            if req.get("per_item", True):
                items = []
                for i, pred in enumerate(extracted):
                    try:
                        items.append(numeric(evaluator_of(task).score([pred], [copy.deepcopy(refs[i])])))
                    except Exception:  # noqa: BLE001  (an item OpenCompass cannot score alone)
                        items.append(None)
            out[abbr] = {
                "extracted": extracted,
                "items": items,
                "metrics": metrics,
                "references": [copy.deepcopy(r) for r in refs] if req.get("references") else None,
            }
            if averaged:
                names = ["bleu_max", "bleu_diff", "bleu_acc"]
                out[abbr]["averaged"] = dict(zip(names, averaged))
    write_response({"render": rendered, "scores": out})


if __name__ == "__main__":
    main()
