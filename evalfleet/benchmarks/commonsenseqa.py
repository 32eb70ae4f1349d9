"""CommonsenseQA as OpenCompass's commonsenseqa configs: the original nested dev file → prompt rounds → a letter.

Extraction (options.extract):
- 'so_the_answer_is' (7shot_cot_gen_734a22): `match_answer_pattern` with `(?i)so the answer is\\s*([A-P])`
  — the first match; the flag makes lowercase letters match too (and then they are wrong).
- 'first_capital' (gen_c946f2): `first_capital_postprocess`, the first character with str.isupper().
Scoring is AccEvaluator's: the extracted string equals the answer key.
"""

from __future__ import annotations

import re
from pathlib import Path

from evalfleet.benchmarks._text import data_path, field, index_ids, read_jsonl
from evalfleet.benchmarks.prompting import build_messages
from evalfleet.errors import EvalfleetError
from evalfleet.types import Item, TaskSpec

OPTIONS = frozenset({"rounds", "extract"})
"""Keys read from `spec.options`: rounds (prompt template), extract ('so_the_answer_is' or 'first_capital')."""

LETTERS = "ABCDE"
_SO_THE_ANSWER_IS = re.compile(r"(?i)so the answer is\s*([A-P])")


def load_items(spec: TaskSpec, data_dir: Path) -> list[Item]:
    """The dev split in the original layout (question.stem, question.choices[].text, answerKey), ids in file order."""
    path = data_path(data_dir, spec.data_files[0])
    rows = read_jsonl(path)
    items = []
    for n, (item_id, row) in enumerate(zip(index_ids(len(rows)), rows), 1):
        question = field(row, "question", path, n)
        choices = field(question, "choices", path, n)
        if not isinstance(choices, list) or len(choices) < len(LETTERS):
            raise EvalfleetError(f"record {n}: expected 5 choices", source=str(path), field="question.choices")
        fields = {"question": field(question, "stem", path, n)}
        fields.update({letter: field(choice, "text", path, n) for letter, choice in zip(LETTERS, choices)})
        fields["answerKey"] = ""  # the output column, emptied for generation
        messages = build_messages(spec.options["rounds"], fields, source=spec.name)
        items.append(Item(id=item_id, messages=messages, reference=field(row, "answerKey", path, n)))
    return items


def extract(text: str, item: Item | None = None, spec: TaskSpec | None = None) -> str:
    """The answer letter as the variant's OpenCompass postprocessor extracts it ('' when none)."""
    how = spec.options.get("extract", "so_the_answer_is") if spec else "so_the_answer_is"
    if how == "first_capital":
        return first_capital(text)
    if how == "so_the_answer_is":
        match = _SO_THE_ANSWER_IS.search(text)
        return match.group(1) if match else ""
    raise EvalfleetError(
        f"unknown extraction {how!r} (known: so_the_answer_is, first_capital)", field="options.extract"
    )


def first_capital(text: str) -> str:
    """The first character for which str.isupper() holds, else ''."""
    return next((c for c in text if c.isupper()), "")


def score(extracted: str, item: Item, spec: TaskSpec | None = None) -> dict[str, float]:
    """{'accuracy': 1.0 if the extracted string is the answer key}."""
    return {"accuracy": float(str(extracted) == str(item.reference))}
