"""T-Eval plan scores through OpenCompass's own PlanningEvaluator with its sentence-embedding model
(runs INSIDE .venv-parity).

Request (stdin JSON): {"teval_dir": dir holding <subset>.json, "embedding_model": a sentence-transformers model
directory, "predictions": {plan subset: [raw output per item, in file order]}}
Response: {subset: {"items": [metrics dict | {"error": str}], "metrics": {name: value x 100},
"similarity": [{"names": matrix, "args": matrix} | null per item]}}

The evaluator is `PlanningEvaluator('', bert_score_model=<embedding_model>)`: what TEvalEvaluator('plan') builds
(`PlanningEvaluator('')`, every other argument at its default: weights 0.75/0.25, threshold 0.7, 'bertscore'),
with only the model named — the one change from OpenCompass's config, since all-mpnet-base-v2 cannot be fetched
here. Items go through the evaluator's per-item path (_process_response, _evaluate) and _post_process, as
TEvalEvaluator.score does, one item at a time so that the item OpenCompass raises on is reported, not fatal.

`similarity` is read off, not computed into the scores: the sentence model is wrapped in a recorder that returns
its encode() output unchanged and keeps it; after each item the four embeddings the evaluator asked for (pred
names, reference names, pred args, reference args) give the clipped cosine matrices, by the evaluator's own
expression (np.maximum(util.cos_sim(...).cpu().numpy(), 0)).
"""

from __future__ import annotations

from _common import serve_offline
from teval_chat import oc_item

CONFIG = "opencompass.configs.datasets.teval.teval_en_gen_1ac254"


class RecordingEncoder:
    """The evaluator's SentenceTransformer, unchanged, with each encode() result kept in `calls`."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def encode(self, sentences, **kwargs):
        out = self.model.encode(sentences, **kwargs)
        self.calls.append(out)
        return out


def clipped_cosines(calls: list) -> dict | None:
    """The evaluator's name and args matrices from its four encode() calls of one item, else None."""
    import numpy as np
    from sentence_transformers import util

    if len(calls) != 4:  # the evaluator stopped before embedding: an empty plan
        return None
    name_pred, name_gt, args_pred, args_gt = calls
    return {
        "names": np.maximum(util.cos_sim(name_pred, name_gt).cpu().numpy(), 0).tolist(),
        "args": np.maximum(util.cos_sim(args_pred, args_gt).cpu().numpy(), 0).tolist(),
    }


def main() -> None:
    serve_offline(work)


def work(req: dict) -> dict:
    from _common import dataset_cfgs
    from opencompass.datasets.teval.evaluators import PlanningEvaluator
    from opencompass.utils import build_dataset_from_cfg

    evaluator = PlanningEvaluator("", bert_score_model=req["embedding_model"])
    recorder = RecordingEncoder(evaluator.sentence_model)
    evaluator.sentence_model = recorder
    cfgs = {c["name"]: c for c in dataset_cfgs(CONFIG, None, {"path": req["teval_dir"]})}
    answer = {}
    for subset, predictions in req["predictions"].items():
        references = build_dataset_from_cfg(cfgs[subset]).test["ground_truth"]
        assert len(references) == len(predictions), subset
        items, good, similarity = [], [], []
        for prediction, reference in zip(predictions, references):
            recorder.calls = []
            result = oc_item(evaluator, prediction, reference)
            items.append(result)
            if "error" in result:
                similarity.append(None)
            else:
                good.append(result)
                similarity.append(clipped_cosines(recorder.calls))
        metrics = {k: float(v) * 100 for k, v in evaluator._post_process(good).items()}
        answer[subset] = {"items": items, "metrics": metrics, "similarity": similarity}
    return answer


if __name__ == "__main__":
    main()
