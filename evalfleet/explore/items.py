"""Item lists: one model's rows of one task filtered by verdict, subset, sandbox isolation and text, one page
at a time.

Verdicts: `error` — the row has an error (it scores 0); `right` — no error and a score above 0;
`wrong` — no error and a score of 0 (or none). Text search looks, case-insensitively, in the item id,
the output, the extracted answer and the error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Mapping, get_args

import pandas as pd

Verdict = Literal["", "right", "wrong", "error"]
"""A verdict filter ('' = all rows)."""
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
PER_PAGE = 50
"""Rows per page of every paged list."""
SEARCHED = ("item_id", "output", "extracted", "error")
"""Columns text search looks in."""


@dataclass(frozen=True)
class ItemQuery:
    """What an item list shows."""

    verdict: Verdict = ""
    """Only rows with this verdict ('' = all)."""
    subset: str = ""
    """Only this subset ('' = all)."""
    isolation: str = ""
    """Only rows checked in this sandbox isolation ('' = all; 'none' = rows without one)."""
    q: str = ""
    """Case-insensitive text in the item id, output, extracted answer or error ('' = all)."""
    page: int = 1
    """1-based page."""

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> ItemQuery:
        """From query parameters (unknown verdicts and bad page numbers fall back to the defaults)."""
        verdict = params.get("verdict", "")
        return cls(
            verdict=verdict if verdict in VERDICTS else "",
            subset=params.get("subset", ""),
            isolation=params.get("isolation", ""),
            q=params.get("q", "").strip(),
            page=page_number(params.get("page")),
        )

    def filters(self) -> dict[str, str]:
        """The filters as query parameters (no page)."""
        return {"verdict": self.verdict, "subset": self.subset, "isolation": self.isolation, "q": self.q}


@dataclass(frozen=True, eq=False)
class Page:
    """One page of a longer list."""

    rows: pd.DataFrame
    """The page's rows."""
    number: int
    """1-based page number (clamped into range)."""
    pages: int
    """Pages in all (at least 1)."""
    total: int
    """Rows in all."""
    start: int = 0
    """Position of the page's first row in the whole list (0-based)."""


def page_number(text: str | None) -> int:
    """A 1-based page number from a query parameter (1 when absent or malformed)."""
    try:
        return max(1, int(text or 1))
    except ValueError:
        return 1


def pages_of(count: int, per_page: int = PER_PAGE) -> int:
    """Pages `count` rows fill (at least 1)."""
    return max(1, math.ceil(count / per_page))


def paged(frame: pd.DataFrame, number: int, per_page: int = PER_PAGE) -> Page:
    """Page `number` of `frame`."""
    pages = pages_of(len(frame), per_page)
    number = min(max(1, number), pages)
    start = (number - 1) * per_page
    return Page(frame.iloc[start : start + per_page], number, pages, len(frame), start)


def verdicts(rows: pd.DataFrame) -> pd.Series:
    """Each row's verdict: 'error', 'right' or 'wrong'."""
    error = rows["error"].notna()
    right = ~error & (pd.to_numeric(rows["score"], errors="coerce").fillna(0) > 0)
    return pd.Series(["error" if e else ("right" if r else "wrong") for e, r in zip(error, right)], index=rows.index)


def keep(rows: pd.DataFrame, query: ItemQuery) -> pd.DataFrame:
    """The rows `query`'s filters keep, with a `verdict` column."""
    rows = rows.assign(verdict=verdicts(rows))
    keep = pd.Series(True, index=rows.index)
    if query.verdict:
        keep &= rows["verdict"] == query.verdict
    if query.subset:
        keep &= rows["subset"].fillna("") == query.subset
    if query.isolation:
        iso = rows["isolation"].fillna("none")
        keep &= iso == query.isolation
    if query.q:
        needle = query.q.lower()
        hit = pd.Series(False, index=rows.index)
        for column in SEARCHED:
            hit |= rows[column].fillna("").astype(str).str.lower().str.contains(needle, regex=False)
        keep &= hit
    return rows[keep]
