"""GSM8K as OpenCompass's gsm8k_gen_1d7fe4: prompt rounds → last number before "Question:" → numeric match.

Extraction is OpenCompass's `gsm8k_postprocess`, the reference its `gsm8k_dataset_postprocess`
(the text after '#### ', commas removed), the check its `Gsm8kEvaluator.is_equal`.
"""

from __future__ import annotations

import re
from pathlib import Path

from evalfleet.benchmarks._text import data_path, field, index_ids, read_jsonl
from evalfleet.benchmarks.prompting import build_messages
from evalfleet.errors import EvalfleetError
from evalfleet.types import Item, TaskSpec

OPTIONS = frozenset({"rounds"})
"""Keys read from `spec.options`: rounds (prompt template)."""

_NUMBER = re.compile(r"\-?\d+\.\d+|\-?\d+")


def load_items(spec: TaskSpec, data_dir: Path) -> list[Item]:
    """The test split (gsm8k/test.jsonl), one item per line, ids '0000'..'1318' in file order."""
    path = data_path(data_dir, spec.data_files[0])
    rows = read_jsonl(path)
    items = []
    for n, (item_id, row) in enumerate(zip(index_ids(len(rows)), rows), 1):
        question, answer = field(row, "question", path, n), field(row, "answer", path, n)
        if "#### " not in answer:
            raise EvalfleetError(f"record {n}: answer has no '#### ' final answer", source=str(path), field="answer")
        # OpenCompass fills the template from the row (question, then answer emptied for generation).
        messages = build_messages(spec.options["rounds"], {"question": question, "answer": ""}, source=spec.name)
        items.append(Item(id=item_id, messages=messages, reference=reference(answer)))
    return items


def reference(answer: str) -> str:
    """The gold number: the text after '#### ' without thousands separators."""
    return answer.split("#### ")[1].replace(",", "")


def extract(text: str, item: Item | None = None, spec: TaskSpec | None = None) -> str:
    """The last number before any 'Question:' (a new, hallucinated question), or 'NULL'."""
    numbers = _NUMBER.findall(text.split("Question:")[0])
    return numbers[-1] if numbers else "NULL"


def is_equal(pred: str, refer: str) -> bool:
    """Equal strings, or float(pred) within 1e-6 of int(refer); anything unparsable is wrong."""
    try:
        return pred == refer or abs(float(pred) - int(refer)) < 1e-6
    except Exception:
        return False


def score(extracted: str, item: Item, spec: TaskSpec | None = None) -> dict[str, float]:
    """{'accuracy': 1.0 or 0.0}."""
    return {"accuracy": float(is_equal(extracted, item.reference))}
