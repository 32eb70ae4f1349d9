"""Tokens per second measured from the shards a results root already holds: the plan's time estimate.

Uses the most recent stored shards (their recorded prompt and output token counts over the seconds
the worker spent on them), so the figure is this cluster's, for this backend and these models.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pyarrow.compute as pc

COLUMNS = ["n_prompt_tokens", "n_output_tokens"]
"""The only columns read."""
RECENT = 64
"""Stored shards read for the estimate (the latest ones)."""


def measured_rate(store: Any, entries: Sequence[Mapping[str, Any]], recent: int = RECENT) -> float | None:
    """Prompt + output tokens per second of the last `recent` generated shards; None when none are timed."""
    tokens, seconds = 0, 0.0
    timed = [e for e in entries if float(e.get("seconds") or 0) > 0][-recent:]
    for entry, table in store.read_each(timed, COLUMNS):
        if isinstance(table, str):  # missing or damaged: not counted
            continue
        tokens += int(pc.sum(table["n_prompt_tokens"]).as_py() or 0) + int(
            pc.sum(table["n_output_tokens"]).as_py() or 0
        )
        seconds += float(entry["seconds"])
    return round(tokens / seconds, 1) if tokens and seconds else None
