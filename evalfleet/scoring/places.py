"""Places, points and place intervals for many bootstrap replicates at once (numpy, one row per replicate).

The same rules as ranking.py, vectorised: competition places (tied entries share the best place),
points by place with the two tie policies, HELM-style rounding before ranking. `stability` turns the
replicates' totals into place intervals, P(first), P(top 3), P(in the points) and, for each pair of
adjacent places, whether the interval of the paired difference of their totals excludes 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

STABILITY_COLUMNS = [
    "view",
    "team",
    "place",
    "place_low",
    "place_high",
    "p_first",
    "p_top3",
    "p_points",
    "separable_from_next",
]


def min_max_places(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(best, worst) place of each entry per row, higher is better; NaN entries take no place (NaN).

    best = 1 + the number of strictly better entries; worst = best + the number of tied others.
    """
    values = np.atleast_2d(np.asarray(values, dtype=float))
    rows, n = values.shape
    key = np.where(np.isnan(values), -np.inf, values)
    order = np.argsort(-key, axis=1, kind="stable")
    ranked = np.take_along_axis(key, order, axis=1)
    pos = np.broadcast_to(np.arange(n), (rows, n))
    starts = np.ones((rows, n), dtype=bool)
    starts[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    ends = np.ones((rows, n), dtype=bool)
    ends[:, :-1] = ranked[:, :-1] != ranked[:, 1:]
    first = np.maximum.accumulate(np.where(starts, pos, 0), axis=1)
    last = np.minimum.accumulate(np.where(ends, pos, n - 1)[:, ::-1], axis=1)[:, ::-1]
    best, worst = np.empty((rows, n)), np.empty((rows, n))
    np.put_along_axis(best, order, first + 1.0, axis=1)
    np.put_along_axis(worst, order, last + 1.0, axis=1)
    missing = np.isnan(values)
    best[missing] = worst[missing] = np.nan
    return best, worst


def points_for(best: np.ndarray, worst: np.ndarray, table: tuple[float, ...], ties: str) -> np.ndarray:
    """Points of each place (ranking.points_for_places, vectorised); NaN places get 0."""
    size = int(np.nanmax(worst, initial=0)) + 1
    padded = np.zeros(max(size, len(table)) + 1)
    padded[1 : len(table) + 1] = table
    ok = ~np.isnan(best)
    b = np.where(ok, best, 0).astype(int)
    w = np.where(ok, worst, 0).astype(int)
    if ties == "shared-best":
        return np.where(ok, padded[b], 0.0)
    if ties != "shared-mean":
        raise ValueError(f"unknown tie policy {ties!r}")
    cum = np.cumsum(padded)
    return np.where(ok, (cum[w] - cum[np.maximum(b - 1, 0)]) / (w - b + 1), 0.0)


def round_decimals(values: np.ndarray, decimals: int | None) -> np.ndarray:
    """`values` rounded to `decimals` (None: unchanged), as ranking.places does before ranking."""
    return values if decimals is None else np.round(values, decimals)


def round_significant(values: np.ndarray, digits: int = 12) -> np.ndarray:
    """Each value to `digits` significant digits (ranking.round_significant, vectorised)."""
    values = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.floor(np.log10(np.abs(values)))
    exponent = np.where(np.isfinite(exponent), exponent, 0)
    scale = 10.0**exponent
    return np.where(values == 0, values, np.round(values / scale, digits - 1) * scale)


def quantiles(draws: np.ndarray, q: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of each column over the replicates (NaN replicates skipped; all NaN -> NaN)."""
    draws = np.atleast_2d(draws)
    ok = ~np.isnan(draws).all(axis=0)
    low, high = np.full(draws.shape[1], np.nan), np.full(draws.shape[1], np.nan)
    if ok.any():
        low[ok], high[ok] = np.nanquantile(draws[:, ok], q, axis=0)
    return low, high


def _place_bounds(best: np.ndarray, q: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    ok = ~np.isnan(best).all(axis=0)
    low, high = np.full(best.shape[1], np.nan), np.full(best.shape[1], np.nan)
    if ok.any():
        low[ok] = np.nanquantile(best[:, ok], q[0], axis=0, method="inverted_cdf")
        high[ok] = np.nanquantile(best[:, ok], q[1], axis=0, method="inverted_cdf")
    return low, high


def _share(best: np.ndarray, k: int) -> np.ndarray:
    """Per team, the share of replicates (where it has a place) with place <= k; NaN without any place."""
    placed = (~np.isnan(best)).sum(axis=0)
    hits = (np.nan_to_num(best, nan=np.inf) <= k).sum(axis=0)
    return np.where(placed > 0, hits / np.maximum(placed, 1), np.nan)


def separable(diff: np.ndarray, q: tuple[float, float]) -> bool:
    """True when the percentile interval of a paired difference excludes 0."""
    low, high = quantiles(diff[:, None], q)
    return bool(low[0] > 0 or high[0] < 0)


def stability(
    view: str,
    teams: list[str],
    place: np.ndarray,
    totals: np.ndarray,
    ranked: np.ndarray,
    q: tuple[float, float],
    points_places: int,
) -> pd.DataFrame:
    """Place interval and separability per team of one view.

    place: official places (NaN = no place); totals: replicates x teams of the view's total; ranked: the
    totals as they are ranked (rounded), teams without an official place set to NaN beforehand.
    Rows in official order; `separable_from_next` compares each placed team with the next placed one.
    """
    place = np.asarray(place, dtype=float)
    ranked = np.where(np.isnan(place)[None, :], np.nan, ranked)
    best, _ = min_max_places(ranked)
    low, high = _place_bounds(best, q)
    placed = ~np.isnan(place)
    share = {k: _share(best, k) for k in (1, 3, points_places)}
    order = sorted(range(len(teams)), key=lambda i: (np.isnan(place[i]), place[i], teams[i]))
    chain = [i for i in order if placed[i]]
    nxt = {a: b for a, b in zip(chain, chain[1:])}
    rows = []
    for i in order:
        sep = separable(totals[:, i] - totals[:, nxt[i]], q) if i in nxt else pd.NA
        rows.append(
            dict(
                view=view,
                team=teams[i],
                place=place[i],
                place_low=low[i],
                place_high=high[i],
                p_first=share[1][i],
                p_top3=share[3][i],
                p_points=share[points_places][i],
                separable_from_next=sep,
            )
        )
    out = pd.DataFrame(rows, columns=STABILITY_COLUMNS)
    out["separable_from_next"] = out["separable_from_next"].astype("boolean")
    return out
