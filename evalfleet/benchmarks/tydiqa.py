"""TyDi QA GoldP as OpenCompass's tydiqa_gen_978d2a: per-language prompt → first line, lower-cased → EM / F1.

The official GoldP files are SQuAD-style JSON (data → paragraphs → qas); OpenCompass reads flattened
<lang>-dev.jsonl rows (passage_text, question_text, answers[].text) and keeps the distinct answer
texts. `flat_rows` is that mapping; the parity suite writes OpenCompass's files from it. The language
of a file is the part of its name before '_tydiqa'. Scoring is TydiQAEvaluator: both sides through
`general_postprocess`, the prediction lower-cased first, the reference not.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pandas as pd

from evalfleet.benchmarks._frames import level_blocks, metrics_frame, ordered_sum
from evalfleet.benchmarks._text import data_path, index_ids, read_json
from evalfleet.errors import EvalfleetError
from evalfleet.types import Item, Message, TaskSpec

OPTIONS = frozenset({"prompts", "template", "lowercase_reference"})
"""Keys read from `spec.options`: prompts (language -> labels), template, lowercase_reference (lower-case
the gold answers)."""


def language_of(rel: str) -> str:
    """'tydiqa/english_tydiqa_dev.json' -> 'english'."""
    return Path(rel).name.split("_tydiqa")[0]


def flat_rows(path: Path) -> list[dict]:
    """{'id', 'passage_text', 'question_text', 'answers': [{'text'}]} per question, in file order."""
    doc = read_json(path)
    rows = []
    try:
        for article in doc["data"]:
            for paragraph in article["paragraphs"]:
                for qa in paragraph["qas"]:
                    rows.append(
                        {
                            "id": qa["id"],
                            "passage_text": paragraph["context"],
                            "question_text": qa["question"],
                            "answers": [{"text": a["text"]} for a in qa["answers"]],
                        }
                    )
    except (KeyError, TypeError) as exc:
        raise EvalfleetError(f"not a SQuAD-style GoldP file (missing {exc})", source=str(path), field="data") from None
    return rows


def load_items(spec: TaskSpec, data_dir: Path) -> list[Item]:
    """Items of every language file, ids '<language>/0000' in file order; reference = distinct answer texts."""
    items = []
    for rel in spec.data_files:
        lang = language_of(rel)
        if lang not in spec.options["prompts"]:
            raise EvalfleetError(f"no prompt for language {lang!r}", source=spec.name, field="options.prompts")
        instruction, passage_label, question_label, answer_label = spec.options["prompts"][lang]
        rows = flat_rows(data_path(data_dir, rel))
        for idx, row in zip(index_ids(len(rows)), rows):
            prompt = (
                spec.options["template"]
                .replace("{instruction}", instruction)
                .replace("{passage_label}", passage_label)
                .replace("{question_label}", question_label)
                .replace("{answer_label}", answer_label)
            )
            # Filled in the row's column order: passage_text, then question_text.
            prompt = prompt.replace("{passage_text}", row["passage_text"]).replace(
                "{question_text}", row["question_text"]
            )
            answers = sorted({a["text"] for a in row["answers"]})
            items.append(
                Item(
                    id=f"{lang}/{idx}",
                    messages=(Message("prompt", prompt),),
                    reference=answers,
                    subset=lang,
                    meta={"qid": row["id"]},
                )
            )
    return items


def extract(text: str, item: Item | None = None, spec: TaskSpec | None = None) -> str:
    """The first line of the output, lower-cased."""
    return re.split(r"[\n]", text, maxsplit=1)[0].lower()


def general_postprocess(text: str) -> str:
    """OpenCompass's general_postprocess: cut at the first newline/period/comma, drop punctuation and articles."""
    text = re.split(r"[\n.,]", text, maxsplit=1)[0]
    text = re.sub(r"[^\w\s]", "", text)
    text = re.sub(r"\b(a|an|the)\b", "", text, flags=re.IGNORECASE)
    return re.sub(r"\s+", " ", text).strip()


def f1(prediction: str, reference: str) -> float:
    """Token F1 of the two post-processed strings."""
    pred, ref = general_postprocess(prediction).split(), general_postprocess(reference).split()
    same = sum((Counter(pred) & Counter(ref)).values())
    if same == 0:
        return 0
    precision, recall = same / len(pred), same / len(ref)
    return (2 * precision * recall) / (precision + recall)


def score(extracted: str, item: Item, spec: TaskSpec | None = None) -> dict[str, float]:
    """{'exact_match', 'f1'}, each the best over the gold answers (lower-cased only with
    options.lowercase_reference)."""
    refs = item.reference
    if spec is not None and spec.options.get("lowercase_reference"):
        refs = [ref.lower() for ref in refs]
    em = max(general_postprocess(extracted) == general_postprocess(ref) for ref in refs)
    return {"exact_match": float(em), "f1": float(max(f1(extracted, ref) for ref in refs))}


def aggregate(rows: pd.DataFrame, spec: TaskSpec) -> dict[str, float]:
    """Per language 'tydiqa-goldp_<lang>_exact_match' / '_f1' (percent, sums in id order) and their plain means."""
    if rows.empty:
        return {}
    frame = metrics_frame(rows)
    frame["item_id"], frame["subset"] = rows["item_id"].values, rows["subset"].values
    per_item = frame.groupby(["subset", "item_id"], sort=True)[["exact_match", "f1"]].mean()
    out: dict[str, float] = {}
    blocks = level_blocks(per_item.index)
    langs = [lang for lang in map(language_of, spec.data_files) if lang in blocks]
    for lang in langs:
        for key in ("exact_match", "f1"):
            values = per_item[key].to_numpy()[blocks[lang]]
            out[f"tydiqa-goldp_{lang}_{key}"] = 100.0 * ordered_sum(values) / len(values)
    for key in ("exact_match", "f1"):
        out[key] = sum(out[f"tydiqa-goldp_{lang}_{key}"] for lang in langs) / len(langs)
    return out
