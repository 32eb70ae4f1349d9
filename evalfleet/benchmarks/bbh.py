"""BIG-Bench Hard as OpenCompass's bbh_gen_5b92b0: 27 subtasks, 3-shot CoT prompt files, two answer extractors.

- multiple-choice subtasks: `bbh_mcq_postprocess` on the output (and on the target), exact match;
- free-form subtasks: `bbh_freeform_postprocess` on output and target, case-insensitive match;
- task score: the plain mean of the subtask accuracies (OpenCompass's `bbh` naive average).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from evalfleet.benchmarks._text import data_path, field, index_ids, read_json
from evalfleet.benchmarks.prompting import build_messages
from evalfleet.errors import EvalfleetError
from evalfleet.types import Item, TaskSpec

MCQ, FREE_FORM = "multiple_choice", "free_form"
OPTIONS = frozenset({MCQ, FREE_FORM, "template"})
"""Keys read from `spec.options`: the subtask names of each kind, and the prompt template ('{hint}' = the
subtask's CoT exemplars)."""


def subtasks(spec: TaskSpec) -> dict[str, str]:
    """{subtask: 'multiple_choice' | 'free_form'} in the config's order."""
    return {**{n: MCQ for n in spec.options[MCQ]}, **{n: FREE_FORM for n in spec.options[FREE_FORM]}}


def load_items(spec: TaskSpec, data_dir: Path) -> list[Item]:
    """Items of every subtask from bbh/bbh/<subtask>.json, ids '<subtask>/0000', prompts from
    cot-prompts/<subtask>.txt."""
    items = []
    for name, kind in subtasks(spec).items():
        hint = cot_hint(data_path(data_dir, f"bbh/cot-prompts/{name}.txt"))
        path = data_path(data_dir, f"bbh/bbh/{name}.json")
        examples = field(read_json(path), "examples", path, 0)
        template = spec.options["template"].replace("{hint}", hint)
        rounds = [{"role": "user", "content": template}]
        for n, (idx, ex) in enumerate(zip(index_ids(len(examples)), examples), 1):
            # Filled in the row's column order (input, then target emptied for generation).
            messages = build_messages(rounds, {"input": field(ex, "input", path, n), "target": ""}, source=spec.name)
            items.append(
                Item(
                    id=f"{name}/{idx}",
                    messages=messages,
                    reference=field(ex, "target", path, n),
                    subset=name,
                    meta={"kind": kind},
                )
            )
    return items


def cot_hint(path: Path) -> str:
    """The prompt file without its canary line and the '-----' line after it (OpenCompass's lib_prompt copy)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if len(lines) < 3 or lines[1] != "-----":
        raise EvalfleetError("expected a canary line, then '-----', then the exemplars", source=str(path))
    return "\n".join(lines[2:])


def mcq_postprocess(text: str) -> str:
    """The option letter after 'answer is ' ('(X)' first, else the first capital); the text itself if none."""
    ans = text
    parts = ans.split("answer is ")
    if len(parts) != 1:
        ans = parts[1].strip()
    match = re.search(r"\(([A-Z])\)*", ans) or re.search(r"([A-Z])", ans)
    return match.group(1) if match else ans


def freeform_postprocess(text: str) -> str:
    """The first line after the last 'answer is', trimmed and normalized as OpenCompass's bbh_freeform_postprocess."""
    ans = text
    parts = re.split(r"answer is\s*:?\s*", ans, flags=re.IGNORECASE)
    if len(parts) != 1:
        ans = parts[-1].strip()
    ans = ans.split("\n")[0].strip()
    if ans.endswith("."):
        ans = ans[:-1].strip()
    match = re.search(r"\*\*(.*?)\*\*", ans)
    if match:
        ans = match.group(1).strip()
    for words in (r"^(yes|no)\b", r"^(true|false)\b"):
        match = re.match(words, ans, flags=re.IGNORECASE)
        if match:
            return match.group(1).capitalize()
    if not re.search(r"\d\s*,\s*\d", ans):
        ans = re.sub(r"\s*,\s*", " ", ans)
    return re.sub(r"\s+", " ", ans).strip()


def extract(text: str, item: Item, spec: TaskSpec | None = None) -> str:
    """The answer as the subtask's OpenCompass postprocessor extracts it."""
    return mcq_postprocess(text) if item.meta["kind"] == MCQ else freeform_postprocess(text)


def score(extracted: str, item: Item, spec: TaskSpec | None = None) -> dict[str, float]:
    """{'accuracy': 1.0 or 0.0}: exact match (multiple choice) or case-folded match (free form) with the target."""
    if item.meta["kind"] == MCQ:
        return {"accuracy": float(extracted == mcq_postprocess(item.reference))}
    return {"accuracy": float(extracted.casefold() == freeform_postprocess(item.reference).casefold())}


def aggregate(rows: pd.DataFrame, spec: TaskSpec) -> dict[str, float]:
    """Per-subtask accuracy in percent ('bbh-<subtask>') and their plain mean ('accuracy')."""
    if rows.empty:
        return {}
    acc = pd.Series([m["accuracy"] for m in rows["metrics"]], index=rows.index)
    per_item = acc.groupby([rows["subset"], rows["item_id"]]).mean()
    per_subtask = per_item.groupby(level=0).mean() * 100.0
    out = {f"bbh-{name}": float(value) for name, value in per_subtask.items()}
    out["accuracy"] = float(per_subtask.mean())
    return out
