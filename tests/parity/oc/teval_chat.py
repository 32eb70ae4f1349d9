"""T-Eval through OpenCompass's own code (runs INSIDE .venv-parity): ChatInferencer prompts and TEvalEvaluator scores.

Request (stdin JSON): {"teval_dir": dir holding <subset>.json, "subsets": [...], "styles": ["base", "chat"],
"tokenizer": checkpoint dir (chat), "predictions": {subset: [raw output per item, in file order]}}
Response: {"prompts": {style: {subset: [str]}}, "scores": {subset: {"items": [metrics dict | {"error": str}],
"metrics": {name: value}}}}

Prompts: TEvalDataset → ZeroRetriever → ChatInferencer.get_chat_list → the history before the last assistant
turn (infer_mode 'last') → the ChatInferencer's template parser for the model (base: HuggingFaceBaseModel;
chat: HuggingFacewithChatTemplate) → the model wrapper's message conversion (render.py's to_text).
Scores: teval_postprocess, then TEvalEvaluator's per-item path (_process_response, _evaluate) and its
_post_process x 100 — with one substitution: PlanningEvaluator's sentence model (all-mpnet-base-v2, which
cannot be fetched here) is replaced by an exact-match encoder (one-hot per distinct string, so cosine is 1
for identical strings and 0 otherwise), evalfleet's `plan_similarity: exact`.
"""

from __future__ import annotations

from _common import serve_offline
from render import build_model, to_text

CONFIG = "opencompass.configs.datasets.teval.teval_en_gen_1ac254"


class ExactEncoder:
    """SentenceTransformer stand-in: identical strings → identical one-hot vectors."""

    DIM = 1 << 16

    def __init__(self):
        self.vocab: dict[str, int] = {}

    def encode(self, sentences, convert_to_tensor=True):
        import torch

        out = torch.zeros((len(sentences), self.DIM))
        for row, s in enumerate(sentences):
            index = self.vocab.setdefault(s, len(self.vocab))
            assert index < self.DIM, "too many distinct strings for the exact encoder"
            out[row, index] = 1.0
        return out


def evaluator_for(subset: str):
    from opencompass.datasets.teval.evaluators import PlanningEvaluator, ReviewEvaluator

    if subset.startswith("plan"):
        ev = PlanningEvaluator.__new__(PlanningEvaluator)  # __init__ would download all-mpnet-base-v2
        ev.bert_score_model, ev.dataset_path = "exact", ""
        ev.name_weight, ev.args_weight, ev.match_threshold = 0.75, 0.25, 0.7
        ev.default_prompt_type, ev.match_strategy, ev.valid_data_count = "json", "bertscore", None
        ev.sentence_model = ExactEncoder()
        return ev
    return ReviewEvaluator("")


def oc_item(evaluator, prediction: str, reference: str) -> dict:
    """OpenCompass's per-item T-Eval metrics of one prediction, or {'error': ...} where its evaluator raises."""
    import json

    from opencompass.datasets import teval_postprocess

    datum = json.loads(reference)
    datum["prediction"] = teval_postprocess(prediction)
    try:
        sample = evaluator._process_response(datum)
        sample = sample[0] if isinstance(sample, tuple) else sample
        return {k: float(v) for k, v in evaluator._evaluate(sample).items()}
    except Exception as exc:  # pinned by the test: OpenCompass raises where evalfleet scores 0
        return {"error": f"{type(exc).__name__}: {exc}"}


def main() -> None:
    serve_offline(work)


def work(req: dict) -> dict:

    from _common import dataset_cfgs
    from opencompass.datasets import teval_postprocess
    from opencompass.openicl.icl_inferencer import ChatInferencer
    from opencompass.openicl.icl_inferencer.icl_chat_inferencer import APITemplateParser, LMTemplateParser
    from opencompass.registry import ICL_PROMPT_TEMPLATES, ICL_RETRIEVERS
    from opencompass.utils import build_dataset_from_cfg

    answer = {"prompts": {s: {} for s in req["styles"]}, "scores": {}}
    models = {s: build_model(s, req.get("tokenizer")) for s in req["styles"]}
    parsers = {"base": LMTemplateParser(None)}
    if "chat" in models:
        parsers["chat"] = APITemplateParser(models["chat"].template_parser.meta_template)
    cfgs = {c["name"]: c for c in dataset_cfgs(CONFIG, None, {"path": req["teval_dir"]})}
    for subset in req["subsets"]:
        cfg = cfgs[subset]
        dataset = build_dataset_from_cfg(cfg)
        retriever = ICL_RETRIEVERS.build({**cfg["infer_cfg"]["retriever"], "dataset": dataset})
        template = ICL_PROMPT_TEMPLATES.build(cfg["infer_cfg"]["prompt_template"])
        inferencer = ChatInferencer.__new__(ChatInferencer)
        chats = ChatInferencer.get_chat_list(inferencer, retriever.retrieve(), retriever, prompt_template=template)
        for style, model in models.items():
            rows = []
            for chat in chats:
                last = max(i for i, m in enumerate(chat) if m["role"] == "assistant")
                rows.append(to_text(model, style, parsers[style].parse_template(chat[:last], mode="gen")))
            answer["prompts"][style][subset] = rows
        predictions = req["predictions"].get(subset)
        if predictions is None:
            continue
        evaluator = evaluator_for(subset)
        references = dataset.test["ground_truth"]
        items, good = [], []
        for prediction, reference in zip(predictions, references):
            result = oc_item(evaluator, prediction, reference)
            items.append(result)
            if "error" not in result:
                good.append(result)
        metrics = {k: float(v) * 100 for k, v in evaluator._post_process(good).items()} if good else {}
        answer["scores"][subset] = {
            "items": items,
            "metrics": metrics,
            "extracted": [teval_postprocess(p) for p in predictions],
        }
    return answer


if __name__ == "__main__":
    main()
