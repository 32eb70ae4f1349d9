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


def prompt_budget(max_seq_len: int, max_new_tokens: int) -> int:
    """OpenCompass's mode='mid' budget: the model's max length minus the tokens still to generate."""
    return max_seq_len - max_new_tokens
