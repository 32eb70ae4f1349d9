"""CHID (FewCLUE) as OpenCompass's FewCLUE_chid_gen_0a29a2 (default) and FewCLUE_chid_ppl_8f2872 ('ppl').

gen: the prompt lists the 7 idioms as A-G; the answer is the output's first upper-case character
(`first_capital_postprocess`), right when it equals the gold letter (AccEvaluator compares strings).
ppl: the item's 7 choices are the whole texts OpenCompass scores (context ''); `choose` picks the
lowest average loss as HuggingFaceBaseModel.get_ppl computes it (see `choose`).
Both splits are items of one task (subset 'chid-dev' / 'chid-test'); `aggregate` reports both.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evalfleet.benchmarks._text import data_path, field, index_ids, read_jsonl
from evalfleet.benchmarks.prompting import build_messages, render_base
from evalfleet.errors import EvalfleetError
from evalfleet.types import Item, Loglik, TaskSpec

OPTIONS = frozenset({"splits", "rounds", "headline"})
"""Keys read from `spec.options`: splits (name -> data file), rounds (prompt template), headline (the split
reported as 'accuracy')."""

LETTERS = "ABCDEFG"


def load_items(spec: TaskSpec, data_dir: Path) -> list[Item]:
    """Items of both splits, ids '<split>/0000' in file order; reference = gold letter (gen) or index (ppl)."""
    items = []
    for split, rel in spec.options["splits"].items():
        path = data_path(data_dir, rel)
        rows = read_jsonl(path)
        for n, (idx, row) in enumerate(zip(index_ids(len(rows)), rows), 1):
            content, candidates = field(row, "content", path, n), field(row, "candidates", path, n)
            answer = field(row, "answer", path, n)
            if len(candidates) != len(LETTERS) or not 0 <= int(answer) < len(LETTERS):
                raise EvalfleetError(
                    f"record {n}: expected 7 candidates and an answer index 0-6", source=str(path), field="candidates"
                )
            items.append(_item(spec, f"{split}/{idx}", split, content, candidates, int(answer)))
    return items


def _item(spec: TaskSpec, item_id: str, split: str, content: str, candidates: list, answer: int) -> Item:
    rounds = spec.options["rounds"]
    if spec.kind == "loglikelihood":
        texts = tuple(
            render_base(build_messages(rounds, {"sentence": content.replace("#idiom#", c)}, source=spec.name))
            for c in candidates
        )
        return Item(id=item_id, messages=(), reference=str(answer), subset=split, choices=texts)
    # CHIDDatasetV2's row: content (blank shown as '______'), A..G, answer (emptied for generation).
    fields = {"content": content.replace("#idiom#", "______"), **dict(zip(LETTERS, candidates)), "answer": ""}
    return Item(
        id=item_id, messages=build_messages(rounds, fields, source=spec.name), reference=LETTERS[answer], subset=split
    )


def extract(text: str, item: Item | None = None, spec: TaskSpec | None = None) -> str:
    """OpenCompass's first_capital_postprocess: the first character with str.isupper(), else ''."""
    for ch in text:
        if ch.isupper():
            return ch
    return ""


def choose(logliks: list[Loglik], item: Item, spec: TaskSpec) -> str:
    """The index of the lowest OpenCompass perplexity score, the first on ties.

    HuggingFaceBaseModel.get_ppl divides the summed loss of every token after the first by the
    number of *all* tokens. With the text as continuation of an empty context, the backend scores
    every token after the first (BOS, or the text's first token without BOS) and reports the context
    length, so OpenCompass's value is -logprob / (n_tokens + n_context_tokens) for any tokenizer
    (a backend that reports no context length is taken to have scored after a BOS: + 1).
    """
    losses = [-ll.logprob / (ll.n_tokens + (ll.n_context_tokens or 1)) for ll in logliks]
    return str(losses.index(min(losses)))


def score(extracted: str, item: Item, spec: TaskSpec | None = None) -> dict[str, float]:
    """{'accuracy': 1.0 if str(extracted) == str(gold) else 0.0}."""
    return {"accuracy": float(str(extracted) == str(item.reference))}


def aggregate(rows: pd.DataFrame, spec: TaskSpec) -> dict[str, float]:
    """Accuracy in percent per split ('chid-dev', 'chid-test') and 'accuracy' = the headline split's."""
    if rows.empty:
        return {}
    acc = pd.Series([m["accuracy"] for m in rows["metrics"]], index=rows.index)
    per_item = acc.groupby([rows["subset"], rows["item_id"]]).mean()
    out = {
        split: float(per_item.loc[split].mean() * 100.0)
        for split in spec.options["splits"]
        if split in per_item.index.get_level_values(0)
    }
    headline = spec.options["headline"]
    if headline in out:
        out["accuracy"] = out[headline]
    return out
