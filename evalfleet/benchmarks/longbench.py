"""LongBench (v1) as OpenCompass's 21 longbench_<subset>_gen configs: prompt → post-process → subset metric.

Items come from longbench/<subset>.jsonl (the official files), one user round each, filled the
OpenCompass way (`input` before `context`, the dataset's column order). Extraction is the config's
post-processor (first non-empty-leading line for trec / triviaqa / samsum / lsht, else the output
as is); per-item scores are `longbench_metrics`; `aggregate` reproduces the evaluators' sum / n * 100
per subset and the `longbench` summary group (mean of category means).

Context budget: OpenCompass truncates in tokens inside the model wrapper; `middle_truncate` is that
rule (HuggingFacewithChatTemplate(mode='mid'), LongBench's pred.py), for a worker to apply to the
prompt's token ids when `GenerationParams.max_prompt_tokens` is set (see docs/longbench.md).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evalfleet.backends.truncation import middle_truncate, prompt_budget  # noqa: F401  (re-exported)
from evalfleet.benchmarks import longbench_metrics as m
from evalfleet.benchmarks._frames import level_blocks, ordered_sum
from evalfleet.benchmarks._text import data_path, field, index_ids, read_jsonl
from evalfleet.benchmarks.prompting import fill
from evalfleet.errors import EvalfleetError
from evalfleet.types import Item, Message, TaskSpec

OPTIONS = frozenset({"subsets", "datasets"})
"""Keys read from `spec.options`: subsets (evaluated, in order), datasets (subset -> prompt, max_out_len,
metric, category)."""

CATEGORIES = (
    "single-document-qa",
    "multi-document-qa",
    "summarization",
    "few-shot-learning",
    "synthetic-tasks",
    "code-completion",
)


def subset_config(spec: TaskSpec, subset: str) -> dict:
    """The `options.datasets.<subset>` mapping, or an error naming the unknown subset."""
    datasets = spec.options.get("datasets") or {}
    if subset not in datasets:
        raise EvalfleetError(
            f"unknown LongBench subset {subset!r} (known: {', '.join(datasets)})",
            source=spec.name,
            field="options.subsets",
        )
    return datasets[subset]


def subset_file(subset: str) -> str:
    """The official file of a subset, relative to the data directory."""
    return f"longbench/{subset}.jsonl"


def load_items(spec: TaskSpec, data_dir: Path) -> list[Item]:
    """Items of every selected subset, ids '<subset>/0000' in file order."""
    items = []
    for subset in spec.options["subsets"]:
        cfg = subset_config(spec, subset)
        rel = subset_file(subset)
        if rel not in spec.data_files:
            raise EvalfleetError(f"subset {subset!r} needs {rel} listed in `data`", source=spec.name, field="data")
        path = data_path(data_dir, rel)
        rows = read_jsonl(path)
        for n, (idx, row) in enumerate(zip(index_ids(len(rows)), rows), 1):
            fields = {"input": field(row, "input", path, n)} if cfg["input"] else {}
            fields["context"] = field(row, "context", path, n)
            answers = field(row, "answers", path, n)
            reference = {"answers": list(answers), "all_classes": row.get("all_classes")}
            if cfg["metric"] == "classification" and not reference["all_classes"]:
                raise EvalfleetError(
                    f"record {n}: classification subset without classes", source=str(path), field="all_classes"
                )
            items.append(
                Item(
                    id=f"{subset}/{idx}",
                    messages=(Message("user", fill(cfg["prompt"], fields)),),
                    reference=reference,
                    subset=subset,
                    meta={"max_new_tokens": int(cfg["max_new_tokens"])},
                )
            )
    return items


def extract(text: str, item: Item, spec: TaskSpec) -> str:
    """The config's post-processor: the first line after leading newlines for first_line subsets, else the text."""
    if subset_config(spec, item.subset)["first_line"]:
        return text.lstrip("\n").split("\n")[0]
    return text


def score(extracted: str, item: Item, spec: TaskSpec) -> dict[str, float]:
    """{'score': this item's term of the subset's evaluator sum, in [0, 1] (count/retrieval: per answer)}."""
    cfg = subset_config(spec, item.subset)
    answers, kind, lang = item.reference["answers"], cfg["metric"], cfg["language"]
    if kind == "qa_f1":
        value = m.qa_f1(extracted, answers, lang)
    elif kind == "rouge":
        value = m.rouge_l(extracted, answers, lang)
    elif kind == "code_sim":
        value = m.code_sim(extracted, answers)
    elif kind == "classification":
        value = m.classification(extracted, answers, item.reference["all_classes"])
    elif kind == "count":
        value = m.count(extracted, answers)
    elif kind == "retrieval":
        value = m.retrieval(extracted, answers, lang)
    else:
        raise EvalfleetError(
            f"unknown LongBench metric {kind!r}", source=spec.name, field=f"options.datasets.{item.subset}.metric"
        )
    return {"score": float(value)}


def aggregate(rows: pd.DataFrame, spec: TaskSpec) -> dict[str, float]:
    """'LongBench_<subset>' (sum / n * 100 in id order, as OC), 'longbench_<category>' means, and 'score'."""
    if rows.empty:
        return {}
    frame = pd.DataFrame(
        {
            "subset": rows["subset"].values,
            "item_id": rows["item_id"].values,
            "value": [r["score"] for r in rows["metrics"]],
        }
    )
    per_item = frame.groupby(["subset", "item_id"], sort=True)["value"].mean()
    out: dict[str, float] = {}
    by_category: dict[str, list[float]] = {}
    blocks = level_blocks(per_item.index)
    for subset in spec.options["subsets"]:
        if subset not in blocks:
            continue
        values = per_item.to_numpy()[blocks[subset]]
        out[f"LongBench_{subset}"] = ordered_sum(values) / len(values) * 100
        by_category.setdefault(subset_config(spec, subset)["category"], []).append(out[f"LongBench_{subset}"])
    for category in CATEGORIES:
        if category in by_category:
            out[f"longbench_{category}"] = sum(by_category[category]) / len(by_category[category])
    means = [out[f"longbench_{c}"] for c in CATEGORIES if c in by_category]
    out["score"] = sum(means) / len(means)
    return out
