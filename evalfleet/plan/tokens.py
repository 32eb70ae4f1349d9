"""Prompt tokens of planned shards, counted with each model's own tokenizer (no model weights are loaded).

The count is what the hf backend counts: the rendered prompt (chat template applied for chat-style
models) encoded with special tokens, once per sample; for a log-likelihood item, the context plus
each choice. Prompts longer than the model's context are counted whole (truncation happens later).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from evalfleet.benchmarks.prompting import render
from evalfleet.types import Item, Shard


def load_tokenizer(path: str) -> Any:
    """The checkpoint's tokenizer (transformers, imported here only)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def prompt_tokens(shard: Shard, items: Sequence[Item], tokenizer: Any) -> int:
    """Prompt tokens of all of `shard`'s requests."""
    kind, samples = shard.task.kind, shard.task.generation.num_samples
    if kind == "measure":
        return 0
    total = 0
    for item in items:
        prompt = render(item.messages, shard.model.prompt_style, tokenizer)
        if kind == "loglikelihood":
            total += sum(len(tokenizer(prompt + c, add_special_tokens=True)["input_ids"]) for c in item.choices)
        else:
            total += len(tokenizer(prompt, add_special_tokens=True)["input_ids"]) * samples
    return total


def counter(load: Callable[[str], Any] = load_tokenizer) -> Callable[[Shard, Sequence[Item]], int]:
    """A `count(shard, items)` that loads each model's tokenizer once."""
    cache: dict[str, Any] = {}

    def count(shard: Shard, items: Sequence[Item]) -> int:
        path = shard.model.path
        if path not in cache:
            cache[path] = load(path)
        return prompt_tokens(shard, items, cache[path])

    return count
