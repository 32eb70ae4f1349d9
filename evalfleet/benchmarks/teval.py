"""T-Eval as OpenCompass's teval_en_gen_1ac254, on the v1 files available (plan_json_v1, plan_str_v1, review_str_v1).

Prompt: the file's `origin_prompt` (system + user) as OpenCompass's ChatInferencer (infer_mode 'last') sends it
(`chat_inferencer_prompt`). Extraction: `teval_postprocess`. Scoring per item, ported from OpenCompass's
T-Eval evaluators:

- review (ReviewEvaluator, response_format 'str'): the text after the first ':', stripped; its first character
  if it is one of A-E, else unparsed. review_quality = 1 if it equals the answer; parse_rate = 1 if parsed.
- plan (PlanningEvaluator, 'bertscore' strategy): the predicted plan is parsed (json: the outermost [...] as a
  list of {name, id, args}; str: one action per line / '. '-separated step naming an API of the item's list),
  then each predicted step u is compared with each reference step v by
      sim(u, v) = 0.75 * s(u.name, v.name) + 0.25 * s(u.args, v.args)
  pairs with sim > 0.7 are matched by networkx.max_weight_matching, the longest increasing run of matched
  reference ids counts as correct: precision, recall, f1_score; parse_rate = 1 if both plans are non-empty.
  `s` is the cosine similarity of sentence embeddings (clipped at 0) with the model `options.embedding_model`
  (OpenCompass: sentence-transformers 'all-mpnet-base-v2', fetched from a hub) when
  `options.plan_similarity` is 'embedding'; with 'exact' (the default here, since that model cannot be
  fetched offline) s = 1 for identical strings, else 0 — names must match exactly, as a high
  embedding similarity of API names nearly always means. See docs/teval.md for the deviation.

Task metrics (percent, as OpenCompass): per subset, the mean of each metric (review: rounded to 4 decimals
first, as ReviewEvaluator does); `score` = OpenCompass's 'teval' summary group restricted to these files:
mean(plan_str f1_score, plan_json f1_score, review_quality, review_quality) (the group counts review twice).
"""

from __future__ import annotations

import ast
import copy
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from evalfleet.benchmarks._text import data_path, read_json
from evalfleet.errors import EvalfleetError
from evalfleet.types import Item, Message, TaskSpec

OPTIONS = frozenset({"plan_similarity", "embedding_model"})
"""Keys read from `spec.options`: plan_similarity ('exact' or 'embedding'), embedding_model
(sentence-transformers name or directory)."""

NAME_WEIGHT, ARGS_WEIGHT, MATCH_THRESHOLD = 0.75, 0.25, 0.7


# ---------------------------------------------------------------- items


def load_items(spec: TaskSpec, data_dir: Path) -> list[Item]:
    """One item per record of each file (subset = file stem), id '<subset>/<record key>'."""
    items = []
    for rel in spec.data_files:
        path = data_path(data_dir, rel)
        data = read_json(path)
        if not isinstance(data, dict):
            raise EvalfleetError("expected one JSON object keyed by sample id", source=str(path))
        subset = Path(rel).stem
        for key, datum in data.items():
            prompt = datum.get("origin_prompt") if isinstance(datum, dict) else None
            if isinstance(prompt, str):
                prompt = json.loads(prompt)
            if not isinstance(prompt, list) or "ground_truth" not in datum:
                raise EvalfleetError(
                    f"record {key}: needs origin_prompt (list of messages) and ground_truth",
                    source=str(path),
                    field="origin_prompt",
                )
            messages = (Message("prompt", chat_inferencer_prompt(prompt, str(path), key)),)
            reference = {k: v for k, v in datum.items() if k != "origin_prompt"}
            items.append(Item(id=f"{subset}/{key}", messages=messages, reference=reference, subset=subset))
    return items


def chat_inferencer_prompt(conversation: list[dict], source: str, key: str) -> str:
    """The conversation as OpenCompass's ChatInferencer sends it, as evalfleet's one 'prompt' message.

    ChatInferencer (not GenInferencer) takes the record's messages as they are: a base model gets the
    contents joined by '\n'; a chat model gets system and user turns both as user turns (the API meta
    template maps SYSTEM to HUMAN), merged with '\n' — one user turn holding the same joined text. That
    holds for the v1 files (system + user); a conversation with assistant turns (v2 multi-turn files) is
    refused rather than rendered differently from OpenCompass.
    """
    roles = [m.get("role") for m in conversation]
    if not conversation or any(r not in ("system", "user") for r in roles):
        raise EvalfleetError(
            f"record {key}: only system/user conversations are supported, got roles {roles}",
            source=source,
            field="origin_prompt",
        )
    return "\n".join(m.get("content") or "" for m in conversation)


# ---------------------------------------------------------------- extraction


def extract(text: str, item: Item | None = None, spec: TaskSpec | None = None) -> str:
    """OpenCompass's teval_postprocess."""
    text = text.split("<eoa>")[0]
    text = text.split("<TOKENS_UNUSED_1>")[0]
    text = text.split("<|im_end|>")[0]
    text = text.split("\nuser")[0]
    text = text.split("\nUSER")[0]
    text = text.split("[INST]")[0]
    text = text.strip()
    if text.startswith("```json"):
        text = text[len("```json") :]
    text = text.strip("`").strip()
    if text[:2] == "{{" and text[-2:] == "}}":
        text = text[1:-1]
    return str(text)


# ---------------------------------------------------------------- scoring


def score(extracted: str, item: Item, spec: TaskSpec | None = None) -> dict[str, float]:
    """Per-item metrics of the item's subset (review or plan); `score` is f1_score / review_quality."""
    if item.subset.startswith("review"):
        metrics = review_metrics(extracted, item.reference)
        return {**metrics, "score": metrics["review_quality"]}
    if item.subset.startswith("plan"):
        options = spec.options if spec else {}
        similarity = similarity_fn(
            options.get("plan_similarity", "exact"), options.get("embedding_model", "all-mpnet-base-v2")
        )
        metrics = plan_metrics(extracted, item.reference, similarity)
        return {**metrics, "score": metrics["f1_score"]}
    raise EvalfleetError(f"no T-Eval evaluator for subset {item.subset!r} (available: plan_*, review_*)", field="data")


def review_metrics(prediction: str, reference: dict) -> dict[str, float]:
    """ReviewEvaluator for response_format 'str' (the v1 review file's only format)."""
    if reference.get("meta_data", {}).get("response_format") != "str":
        raise EvalfleetError("only review items with response_format 'str' are supported", field="meta_data")
    pred = prediction[prediction.find(":") + 1 :].strip()
    pred = pred[0] if pred and pred[0] in "ABCDE" else None
    if pred is None:
        return {"parse_rate": 0.0, "review_quality": 0.0}
    return {"parse_rate": 1.0, "review_quality": float(pred == reference["ground_truth"]["answer"])}


def format_load(raw: str, start: str = "", end: str = ""):
    """T-Eval's format_load: strip a ```json fence, slice start..end, then literal_eval / json / json with '→\"."""
    if not isinstance(raw, str):
        return raw
    if "```json" in raw:
        raw = raw[raw.find("```json") + len("```json") :].strip("`")
    if start:
        raw = raw[raw.find(start) :]
    if end:
        raw = raw[: raw.rfind(end) + len(end)]
    for parse in (ast.literal_eval, json.loads, lambda s: json.loads(s.replace("'", '"'))):
        try:
            return parse(raw)
        except Exception:  # each parser raises its own types; the next one is tried
            continue
    raise ValueError("Cannot parse raw data")


def plan_steps(data) -> list[dict]:
    """PlanningEvaluator.format_load: a list of {name: str, id: int, args: str}, [] when anything is off."""
    try:
        steps = format_load(data, "[", "]")
    except Exception:
        return []
    if not isinstance(steps, list):
        return []
    out = []
    for step in steps:
        try:
            out.append({"name": str(step["name"]), "id": int(step["id"]), "args": str(step["args"])})
        except Exception:
            return []
    return out


def str_plan(prediction: str, api_list: list[str]) -> list[dict]:
    """The 'str' prompt type: each line (or '. '-separated step) naming an API becomes one step."""
    steps = []
    for line in prediction.replace(". ", "\n").split("\n"):
        first, action = 1e9, ""
        for api in api_list:
            at = line.find(api)
            if at != -1 and at < first:
                first, action = at, api
        if action:
            steps.append({"id": len(steps), "name": action, "args": line})
    return steps


def plan_metrics(prediction: str, reference: dict, similarity) -> dict[str, float]:
    """PlanningEvaluator._process_response + bertscore_match + parse_rate for one item."""
    meta = reference.get("meta", {})
    prompt_type = meta.get("prompt_type", "json")
    gt = plan_steps(reference["ground_truth"])
    if prompt_type == "json":
        pred = plan_steps(prediction)
    elif prompt_type == "str":
        pred = str_plan(prediction, meta["API_list"])
    else:
        raise EvalfleetError(f"prompt_type {prompt_type!r} is not supported (json, str)", field="meta.prompt_type")
    result = match_plans(pred, gt, similarity)
    result["parse_rate"] = 0.0 if not pred or not gt else 1.0
    return result


def match_plans(pred_plan: list[dict], gt_plan: list[dict], similarity) -> dict[str, float]:
    """bertscore_match: similarity matrix → max-weight matching above the threshold → LIS of matched ids."""
    import networkx as nx

    if not pred_plan or not gt_plan:
        return {"precision": 0.0, "recall": 0.0, "f1_score": 0.0}
    pred_plan = copy.deepcopy(sorted(pred_plan, key=lambda x: x["id"]))
    gt_plan = copy.deepcopy(sorted(gt_plan, key=lambda x: x["id"]))
    if pred_plan[-1]["name"] == "FinishAction":
        pred_plan = pred_plan[:-1]
    if gt_plan[-1]["name"] == "FinishAction":
        gt_plan = gt_plan[:-1]
    if not gt_plan or not pred_plan:  # only FinishAction on one side: OpenCompass raises here (empty embedding / max())
        return {"precision": 0.0, "recall": 0.0, "f1_score": 0.0}
    names = similarity([p["name"] for p in pred_plan], [g["name"] for g in gt_plan])
    args = similarity([str(p["args"]) for p in pred_plan], [str(g["args"]) for g in gt_plan])
    graph = nx.Graph()
    for i in range(len(pred_plan)):
        for j in range(len(gt_plan)):
            weight = names[i][j] * NAME_WEIGHT + args[i][j] * ARGS_WEIGHT
            if weight > MATCH_THRESHOLD:
                graph.add_edge(i, str(j), weight=weight)
    mapping = {}
    for a, b in nx.max_weight_matching(graph):
        if isinstance(a, int):
            mapping[a] = int(b)
        else:
            mapping[int(b)] = int(a)
    matched = [mapping.get(i, -1) for i in range(len(pred_plan))]
    dp = [1] * len(pred_plan)
    for i in range(len(pred_plan)):
        for j in range(i):
            if matched[i] == -1 or matched[j] == -1:
                continue
            if matched[i] > matched[j]:
                dp[i] = max(dp[i], dp[j] + 1)
    correct = max(dp)
    recall, precision = correct / len(gt_plan), correct / len(pred_plan)
    return {"precision": precision, "recall": recall, "f1_score": 2 * recall * precision / (recall + precision)}


def exact_similarity(a: list[str], b: list[str]) -> list[list[float]]:
    """1.0 where the strings are identical, else 0.0."""
    return [[1.0 if x == y else 0.0 for y in b] for x in a]


@lru_cache(maxsize=4)
def _sentence_model(name: str):
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise EvalfleetError(
            "plan_similarity 'embedding' needs the sentence-transformers package", field="options.plan_similarity"
        ) from exc
    try:
        return SentenceTransformer(name)
    except Exception as exc:  # offline hub, missing directory
        raise EvalfleetError(
            f"cannot load the sentence-embedding model {name!r} ({type(exc).__name__}: {exc}); "
            "give a local model directory, or plan_similarity: exact",
            field="options.embedding_model",
        ) from exc


def similarity_fn(kind: str, model: str):
    """The per-pair similarity of plan step names / args: 'exact' or 'embedding' (cosine, clipped at 0)."""
    if kind == "exact":
        return exact_similarity
    if kind != "embedding":
        raise EvalfleetError(f"must be 'exact' or 'embedding', got {kind!r}", field="options.plan_similarity")

    def embedded(a: list[str], b: list[str]) -> list[list[float]]:
        encoder = _sentence_model(model)  # raises a clear error first when the package or model is missing
        from sentence_transformers import util

        sims = util.cos_sim(encoder.encode(a, convert_to_tensor=True), encoder.encode(b, convert_to_tensor=True))
        return sims.clamp(min=0).cpu().tolist()

    return embedded


# ---------------------------------------------------------------- task metrics


def aggregate(rows: pd.DataFrame, spec: TaskSpec) -> dict[str, float]:
    """'<subset>/<metric>' means in percent per subset, and `score` (OpenCompass's teval group on these files)."""
    out: dict[str, float] = {}
    for subset, part in rows.groupby("subset", sort=True):
        review = str(subset).startswith("review")
        names = ["parse_rate", "review_quality"] if review else ["precision", "recall", "f1_score", "parse_rate"]
        for name in names:
            mean = np.mean([float(m.get(name, 0.0)) for m in part["metrics"]])  # numpy's sum order, as OpenCompass
            out[f"{subset}/{name}"] = float(np.round(mean, decimals=4) if review else mean) * 100.0
    parts = [out[k] for k in ("plan_str_v1/f1_score", "plan_json_v1/f1_score") if k in out]
    if "review_str_v1/review_quality" in out:
        parts += [out["review_str_v1/review_quality"]] * 2
    if parts:
        out["score"] = sum(parts) / len(parts)
    return out
