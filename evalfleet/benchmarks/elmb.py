"""ELMB (2025 Data Filtering Challenge): 0-shot multiple choice scored by log-likelihood, as lm-evaluation-harness.

One item = the context `Question: {question}\\nAnswer:` (ChatRAG: `Context: {ctx}\\n` first) as one user
round, and one continuation ` {choice}` per choice (lm-eval's target_delimiter ' ' + the choice).
Per item, from the log-likelihoods of the continuations (lm-eval's `process_results` for
`output_type: multiple_choice`):

    acc      = 1 if argmax(logprob) == answer                      (first index on ties, numpy's argmax)
    acc_norm = 1 if argmax(logprob / len(choice)) == answer        (len of the choice text, no delimiter)

`len` is what lm-eval 0.4 computes: Python `len(str)` of the choice, i.e. characters (code points); its
docs call it "byte-length normalisation" but the code counts characters — the parity test pins it.
The task score is the mean over items, in percent. The `acc` choice is the default `choose`
(`evalfleet.benchmarks.default_choose`: highest summed log-probability, the first on ties).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from evalfleet.benchmarks._text import index_ids
from evalfleet.benchmarks.elmb_data import check_row, load_rows
from evalfleet.errors import EvalfleetError
from evalfleet.types import Item, Loglik, Message, TaskSpec

OPTIONS = frozenset({"template", "target_delimiter", "hub", "split"})
"""Keys read from `spec.options`: template (context), target_delimiter (before each choice), hub (dataset
repo), split (hub split)."""

_FIELD = re.compile(r"\{(\w+)\}")


def render_context(template: str, row: dict, source: str = "<task>") -> str:
    """The template with each `{field}` replaced by the row's value, in one pass (values are never re-scanned)."""

    def sub(match: re.Match) -> str:
        key = match.group(1)
        if key not in row:
            raise EvalfleetError(
                f"template names {{{key}}}, which the record lacks", source=source, field="options.template"
            )
        return str(row[key])

    return _FIELD.sub(sub, template)


def load_items(spec: TaskSpec, data_dir: Path) -> list[Item]:
    """The use case's validation set (local file, else the hub set `options.hub`), ids in file order."""
    template = spec.options.get("template", "Question: {question}\nAnswer:")
    delimiter = spec.options.get("target_delimiter", " ")
    need_ctx = "{ctx}" in template
    rows, source = load_rows(
        data_dir, spec.data_files[0], spec.options.get("hub"), spec.options.get("split", "validation")
    )
    if not rows:
        raise EvalfleetError("no records", source=source)
    items = []
    for n, (item_id, raw) in enumerate(zip(index_ids(len(rows)), rows), 1):
        row = check_row(raw, n, source, need_ctx)
        items.append(
            Item(
                id=item_id,
                messages=(Message("user", render_context(template, row, source)),),
                reference=row["answer"],
                choices=tuple(delimiter + c for c in row["choices"]),
                meta={"choice_lengths": [len(c) for c in row["choices"]]},
            )
        )
    return items


def argmax(values: Sequence[float]) -> int:
    """Index of the largest value, the first one on ties (numpy.argmax)."""
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def choose_norm(logliks: Sequence[Loglik], item: Item) -> int:
    """The chosen index for `acc_norm`: highest log-probability per character of the choice text."""
    lengths = item.meta["choice_lengths"]
    return argmax([ll.logprob / float(n) for ll, n in zip(logliks, lengths)])


def score(
    extracted: str, item: Item, spec: TaskSpec | None = None, logliks: Sequence[Loglik] | None = None
) -> dict[str, float]:
    """{'acc', and 'acc_norm' when the log-likelihoods are given}: 1.0 where the choice is the answer index."""
    metrics = {"acc": float(str(extracted) == str(item.reference))}
    if logliks is not None:
        if len(logliks) != len(item.choices):
            raise EvalfleetError(f"item {item.id}: {len(logliks)} log-likelihoods for {len(item.choices)} choices")
        metrics["acc_norm"] = float(choose_norm(logliks, item) == int(item.reference))
    return metrics
