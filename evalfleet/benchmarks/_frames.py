"""Column helpers for the modules' `aggregate`: the recorded rows' metrics as columns, sums in row order.

A final scores ~2,700 (task, model) groups; building a DataFrame from a list of dicts and looking up
each subset of a MultiIndex cost more than the arithmetic. These give the same numbers faster:
`metrics_frame` is `pd.DataFrame(list(rows["metrics"]), index=rows.index)`, `ordered_sum` is Python's
`sum` over the values in order (numpy's own sum adds pairwise: other last bits than the references).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def metrics_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """One column per metric key (first-seen order), NaN where a row lacks it: `pd.DataFrame(list of dicts)`."""
    dicts = list(rows["metrics"])
    keys = list(dict.fromkeys(k for m in dicts for k in m))
    return pd.DataFrame({k: [m.get(k, np.nan) for m in dicts] for k in keys}, index=rows.index, columns=keys)


def ordered_sum(values: np.ndarray) -> float:
    """values[0] + values[1] + ... left to right, as `sum(values)` adds NumPy floats (0.0 when empty)."""
    return float(np.cumsum(values, dtype=np.float64)[-1]) if len(values) else 0.0


def level_blocks(index: pd.MultiIndex) -> dict[str, slice]:
    """Each first-level label of a sorted MultiIndex → the slice of its rows (what `.loc[label]` selects)."""
    labels = index.get_level_values(0)
    starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
    ends = np.r_[starts[1:], len(labels)]
    return {labels[s]: slice(int(s), int(e)) for s, e in zip(starts, ends)}
