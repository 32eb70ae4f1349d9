"""Which shared leading tokens of a batch of prompts to serve from a prefix KV cache (pure).

Few-shot prompts (GSM8K's 4 exemplars, BBH's 3, CommonsenseQA's 7, MATH's 4) share most of their
tokens. A backend that keeps the KV cache of a shared prefix computes it once, for one row,
instead of once per row and batch. `choose_prefix` picks the prefix for a batch: a cached one
when using it costs less extra prefill than computing the batch's own longest common prefix would,
else that longest common prefix (at most each prompt's length - 1, so every row has a token left
to feed the model).
"""

from __future__ import annotations

from typing import Iterable, Sequence

MIN_PREFIX_TOKENS = 32
"""Shorter shared prefixes are not worth a cache entry."""


def common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    """Length of the longest common prefix of `seqs`, at most min(len) - 1."""
    if not seqs:
        return 0
    first, limit = seqs[0], min(len(s) for s in seqs) - 1
    n = 0
    while n < limit and all(s[n] == first[n] for s in seqs):
        n += 1
    return max(0, n)


def choose_prefix(
    seqs: Sequence[Sequence[int]], cached: Iterable[tuple[int, ...]], *, min_tokens: int = MIN_PREFIX_TOKENS
) -> tuple[int, ...] | None:
    """The prefix to serve from the cache for this batch, or None (no prefix caching for it).

    A cached prefix c that starts every prompt is used when the prefill it leaves undone,
    (lcp - len(c)) tokens on each of the B rows, is at most the lcp tokens a new one-row cache
    entry would take. With no such entry, a batch of two or more rows gets its own lcp; a lone
    prompt gains nothing from a new entry.
    """
    lcp = common_prefix(seqs)
    if lcp < min_tokens:
        return None
    head = tuple(seqs[0][:lcp])
    usable = [c for c in cached if min_tokens <= len(c) <= lcp and head[: len(c)] == c]
    best = max(usable, key=len, default=None)
    if best is not None and (lcp - len(best)) * len(seqs) <= lcp:
        return best
    return head if len(seqs) >= 2 else None
