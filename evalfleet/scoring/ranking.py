"""Places and points: competition ranking with shared places, and the two tie policies."""

from __future__ import annotations

import pandas as pd


def places(values: pd.Series, *, higher_is_better: bool = True, decimals: int | None = 9) -> pd.Series:
    """Place of each entry: 1 + the number of strictly better entries (tied entries share the best place).

    NaN values take no place (NaN). Values are rounded to `decimals` first so float noise cannot
    break a tie (None: compare exactly).
    """
    v = values.astype(float)
    if decimals is not None:
        v = v.round(decimals)
    return v.rank(method="min", ascending=not higher_is_better, na_option="keep")


def round_significant(values: pd.Series, digits: int = 12) -> pd.Series:
    """Each value rounded to `digits` significant digits (NaN kept): equal up to summation order -> equal."""
    return values.astype(float).map(lambda v: v if pd.isna(v) or v == 0 else float(f"{v:.{digits}g}"))


def points_for_places(place: pd.Series, table: tuple[float, ...], *, ties: str = "shared-mean") -> pd.Series:
    """Points per entry from its place and the points table (place i gets table[i-1], later places 0).

    ties='shared-mean': k entries sharing place p each get the mean of the points of places p..p+k-1,
    so the sum over all entries equals the sum for untied places. ties='shared-best': each gets table[p-1].
    NaN places get 0 points.
    """

    def at(p: int) -> float:
        return float(table[p - 1]) if 1 <= p <= len(table) else 0.0

    counts = place.value_counts(dropna=True)
    out = []
    for p in place:
        if pd.isna(p):
            out.append(0.0)
            continue
        p = int(p)
        if ties == "shared-best":
            out.append(at(p))
        elif ties == "shared-mean":
            k = int(counts[p])
            out.append(sum(at(q) for q in range(p, p + k)) / k)
        else:
            raise ValueError(f"unknown tie policy {ties!r}")
    return pd.Series(out, index=place.index, dtype=float)
