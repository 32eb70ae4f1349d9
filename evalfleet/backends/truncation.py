"""Token-level prompt truncation shared by the backends (OpenCompass's model wrapper, mode='mid')."""

from __future__ import annotations

from typing import Sequence


def middle_truncate(ids: Sequence[int], budget: int | None) -> list[int]:
    """Keep the first budget//2 and the last budget//2 token ids when there are more than `budget`."""
    ids = list(ids)
    if budget is None or len(ids) <= budget:
        return ids
    half = budget // 2
    if half <= 0:
        return ids  # OpenCompass leaves the prompt alone when no half fits
    return ids[:half] + ids[-half:]


CONTEXT = "context"
"""`max_prompt_tokens: context` — the budget is the model's context length minus the tokens to generate."""


def prompt_budget(max_seq_len: int, max_new_tokens: int) -> int:
    """OpenCompass's mode='mid' budget: the model's max length minus the tokens still to generate."""
    return max_seq_len - max_new_tokens


def left_truncate(ids: Sequence[int], max_length: int) -> list[int]:
    """The last `max_length` token ids: OpenCompass's default for a prompt longer than the model's
    `max_seq_len` (its tokenizer truncates with truncation_side='left'; the start of the prompt is lost)."""
    ids = list(ids)
    return ids[-max_length:] if max_length > 0 and len(ids) > max_length else ids


def budget_for(max_prompt_tokens: int | str | None, max_new_tokens: int, context_length: int) -> int | None:
    """The prompt budget a backend applies: a number as given, CONTEXT -> prompt_budget (at least 1),
    None -> no limit."""
    if max_prompt_tokens == CONTEXT:
        return max(1, prompt_budget(context_length, max_new_tokens))
    return max_prompt_tokens


def fit_prompt(
    ids: Sequence[int], max_prompt_tokens: int | str | None, max_new_tokens: int, context_length: int
) -> list[int]:
    """A prompt's token ids as both backends feed them: middle-truncated to its budget (`budget_for`), then
    cut from the left to the model's context length (`left_truncate`)."""
    return left_truncate(
        middle_truncate(ids, budget_for(max_prompt_tokens, max_new_tokens, context_length)), context_length
    )
