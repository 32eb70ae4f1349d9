"""Exact paired tests of two teams on one task's items: the sign test on the items where they differ.

For a 0-1 metric and one model per team this is McNemar's exact test (the discordant items: one team
right, the other wrong); with three models per team, or a graded metric (F1, ROUGE, BLEU), it is the
exact sign test on the per-item team scores (items weigh the same; ties dropped). Two-sided p-value
of Binomial(n, 1/2), as scipy.stats.binomtest(k, n, 0.5) computes it, without scipy.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

TEST_COLUMNS = [
    "view",
    "task",
    "team",
    "next_team",
    "n_items",
    "n_discordant",
    "team_better",
    "next_better",
    "p_value",
    "method",
]
TOLERANCE = 1e-12
"""Per-item score differences smaller than this are ties."""


@lru_cache(maxsize=8)
def _table(size: int) -> np.ndarray:
    return np.array([math.lgamma(x + 1) for x in range(size + 1)])


def log_factorials(n: int) -> np.ndarray:
    """log(x!) for x = 0..n at least (math.lgamma; tables of power-of-two sizes are cached)."""
    return _table(1 << max(10, int(n).bit_length()))


def sign_test_p(k: int, n: int) -> float:
    """Two-sided exact p-value of k successes in n fair trials: min(1, 2 * P(X <= min(k, n - k)))."""
    if n == 0:
        return 1.0
    j = min(k, n - k)
    if 2 * j == n:
        return 1.0
    table = log_factorials(n)
    i = np.arange(j + 1)
    logs = table[n] - table[i] - table[n - i] - n * math.log(2.0)
    top = logs.max()
    return float(min(1.0, 2.0 * math.exp(top) * np.exp(logs - top).sum()))


def paired_test(a: np.ndarray, b: np.ndarray) -> dict:
    """Sign test of per-item scores `a` vs `b` (NaN = item missing for a team, left out)."""
    both = ~(np.isnan(a) | np.isnan(b))
    a, b = a[both], b[both]
    diff = a - b
    better, worse = int((diff > TOLERANCE).sum()), int((diff < -TOLERANCE).sum())
    binary = bool(np.isin(a, (0.0, 1.0)).all() and np.isin(b, (0.0, 1.0)).all())
    return dict(
        n_items=int(both.sum()),
        n_discordant=better + worse,
        team_better=better,
        next_better=worse,
        p_value=sign_test_p(better, better + worse),
        method="McNemar exact (0-1 items)" if binary else "exact sign test (per-item team scores)",
    )
