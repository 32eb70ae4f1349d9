"""One model's items of one task: a filter form (verdict, subset, sandbox isolation, text search; served pages),
then one page of matching rows, each linked to its item page."""

from __future__ import annotations

import pandas as pd

from evalfleet.explore.items import VERDICTS, ItemQuery, keep, paged
from evalfleet.explore.links import Links
from evalfleet.explore.pages.layout import page
from evalfleet.explore.pages.markup import esc, link, number, pager, select, table
from evalfleet.explore.snapshot import Snapshot

EXCERPT = 120
"""Characters of each output shown in the list."""


def excerpt(text: object, size: int = EXCERPT) -> str:
    """The first `size` characters of a text on one line."""
    flat = " ".join(str(text or "").split())
    return flat if len(flat) <= size else flat[: size - 1] + "…"


def filter_form(rows: pd.DataFrame, query: ItemQuery, links: Links, task: str, model: str) -> str:
    """The GET form of the item filters."""
    subsets = sorted(s for s in set(rows["subset"].fillna("")) if s)
    isolations = sorted(set(rows["isolation"].fillna("none")))
    verdict = select("verdict", [(v, v or "all verdicts") for v in VERDICTS], query.verdict)
    subset = select("subset", [("", "all subsets")] + [(s, s) for s in subsets], query.subset)
    isolation = select("isolation", [("", "any sandbox")] + [(i, i) for i in isolations], query.isolation)
    return f"""<form class="filters" id="filters" method="get" action="{esc(links.items(task, model))}">
{verdict} {subset} {isolation}
<input type="search" name="q" value="{esc(query.q)}" placeholder="search output, answer, item id, error">
<button type="submit">filter</button> {link(links.items(task, model), "clear")}</form>"""


def item_rows(rows: pd.DataFrame, links: Links, task: str, model: str, linked: bool) -> list[list]:
    """Table cells of item rows (the item id linked to its page when `linked`)."""
    out = []
    for r in rows.to_dict("records"):
        item = link(links.item(task, model, r["item_id"]), r["item_id"]) if linked else esc(r["item_id"])
        out.append(
            [
                item,
                esc(r["subset"] or ""),
                str(r["sample"]),
                (esc(r["verdict"]), r["verdict"]),
                number(r["score"]),
                esc(excerpt(r["extracted"], 40)),
                esc(excerpt(r["output"])),
                esc(excerpt(r["error"], 60)),
                esc(r["isolation"] or ""),
            ]
        )
    return out


def render_items(
    snap: Snapshot, rows: pd.DataFrame, task: str, model: str, query: ItemQuery, links: Links, *, linked: bool = True
) -> str:
    """The item list of (task, model): page `query.page` of the rows its filters keep."""
    kept = keep(rows, query)
    one = paged(kept, query.page)
    counts = kept["verdict"].value_counts().to_dict() if len(kept) else {}
    summary = ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICTS if v)
    headers = ["item", "subset", "sample", "verdict", "score", "extracted", "output", "error", "sandbox"]
    main = f"""<h1>{esc(task)} · {esc(model)}</h1>
<p class="sub" id="item-summary" data-total="{len(rows)}" data-kept="{len(kept)}">{len(kept)} of {len(rows)} rows
({esc(summary)})</p>
{table(headers, item_rows(one.rows, links, task, model, linked), klass="items")}
{pager(one, lambda n: links.items(task, model, n, **query.filters()), "rows")}"""
    before = "" if links.static else filter_form(rows, query, links, task, model)
    crumbs = [(links.index(), "Leaderboard"), (links.task(task), task), (links.items(task, model), model)]
    return page(f"{task} · {model} — items", main, links, stamp=snap.stamp, crumbs=crumbs, before=before)
