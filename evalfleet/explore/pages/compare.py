"""Two models on the same items of one task — or one model with itself across two runs — side by side: which
items they answer differently (verdict, extracted answer or output), with both outputs next to each other."""

from __future__ import annotations

import pandas as pd

from evalfleet.explore.items import page_number, paged, verdicts
from evalfleet.explore.links import Links
from evalfleet.explore.pages.layout import page
from evalfleet.explore.pages.markup import esc, link, number, pager, pre, select
from evalfleet.explore.snapshot import Snapshot

PER_PAGE = 20
"""Item pairs per compare page."""
KEY = ["item_id", "sample"]


def side(rows: pd.DataFrame, run: str) -> pd.DataFrame:
    """One side's rows: of run `run` when given, else the latest run's row of each (item, sample)."""
    if run:
        rows = rows[rows["run_id"] == run]
    rows = rows.assign(verdict=verdicts(rows)).sort_values(["run_id", *KEY], kind="stable")
    return rows.drop_duplicates(KEY, keep="last")[[*KEY, "verdict", "score", "extracted", "output", "error", "run_id"]]


def paired(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Rows of both sides joined on (item, sample), with `differs`: verdict, answer or output not the same."""
    both = a.merge(b, on=KEY, how="outer", suffixes=("_a", "_b")).sort_values(KEY, kind="stable")
    differs = pd.Series(False, index=both.index)
    for column in ("verdict", "extracted", "output"):
        differs |= both[f"{column}_a"].fillna("\0") != both[f"{column}_b"].fillna("\0")
    return both.assign(differs=differs)


def render_compare(
    snap: Snapshot, task: str, rows_a: pd.DataFrame, rows_b: pd.DataFrame, params: dict, links: Links
) -> str:
    """The compare page of `params` (a, b, ra, rb, only, q, page)."""
    a, b = params.get("a", ""), params.get("b", "")
    ra, rb = params.get("ra", ""), params.get("rb", "")
    only = params.get("only", "differ")
    q = params.get("q", "").strip()
    both = paired(side(rows_a, ra), side(rows_b, rb))
    shown = both[both["differs"]] if only != "all" else both
    if q:
        shown = shown[shown["item_id"].astype(str).str.contains(q, case=False, regex=False)]
    one = paged(shown, page_number(params.get("page")), PER_PAGE)
    a_only = int(((both["verdict_a"] == "right") & (both["verdict_b"] != "right")).sum())
    b_only = int(((both["verdict_b"] == "right") & (both["verdict_a"] != "right")).sum())
    label_a = f"{a}" + (f" (run {ra})" if ra else "")
    label_b = f"{b}" + (f" (run {rb})" if rb else "")
    pairs = "".join(pair(r, task, a, b, label_a, label_b, links) for r in one.rows.to_dict("records"))
    main = f"""<h1>{esc(task)}: {esc(label_a)} vs {esc(label_b)}</h1>
<p class="sub" id="compare-summary" data-items="{len(both)}" data-differ="{int(both["differs"].sum())}">
{len(both)} rows paired · <b>{int(both["differs"].sum())}</b> differ · right only for A: {a_only} ·
right only for B: {b_only}</p>
{pairs or "<p class='notes'>no rows to show</p>"}
{pager(one, lambda n: links.compare(task, **{**params, "page": str(n) if n > 1 else ""}), "pairs")}"""
    crumbs = [(links.index(), "Leaderboard"), (links.task(task), task), (links.compare(task, a=a, b=b), "compare")]
    before = form(snap, task, rows_a, rows_b, params, links)
    return page(f"{task}: {a} vs {b}", main, links, stamp=snap.stamp, crumbs=crumbs, before=before)


def pair(r: dict, task: str, a: str, b: str, label_a: str, label_b: str, links: Links) -> str:
    """One item of both sides: verdicts, answers and outputs next to each other."""

    def half(suffix: str, model: str, label: str) -> str:
        verdict = r[f"verdict{suffix}"]
        if not isinstance(verdict, str):
            return f"<div><h3>{esc(label)}</h3><p class='notes'>not stored</p></div>"
        klass = "ok" if verdict == "right" else "bad"
        error = f" · error {esc(r[f'error{suffix}'])}" if isinstance(r[f"error{suffix}"], str) else ""
        return (
            f"<div><h3>{link(links.item(task, model, r['item_id']), label)} <span class='badge {klass}'>{esc(verdict)}"
            f"</span></h3><p class='sub'>score {number(r[f'score{suffix}'])} · answer "
            f"<code>{esc(r[f'extracted{suffix}'])}</code>{error}</p>{pre(r[f'output{suffix}'], 'output')}</div>"
        )

    mark = " differs" if r["differs"] else ""
    return (
        f"<section class='pair{mark}' data-item='{esc(r['item_id'])}'><h2>item <code>{esc(r['item_id'])}</code>"
        f" (sample {esc(r['sample'])})</h2><div class='side'>{half('_a', a, label_a)}{half('_b', b, label_b)}"
        "</div></section>"
    )


def form(snap: Snapshot, task: str, rows_a: pd.DataFrame, rows_b: pd.DataFrame, params: dict, links: Links) -> str:
    """Pickers of both models and runs, which rows to show, an item filter."""
    models = [(m, m) for m in snap.models]

    def runs(rows: pd.DataFrame) -> list[tuple[str, str]]:
        return [("", "latest run")] + [(r, r) for r in sorted(set(rows["run_id"])) if r]

    return f"""<form class="filters" id="compare-form" method="get" action="{esc(links.compare(task))}">
<label>A {select("a", models, params.get("a", ""))} {select("ra", runs(rows_a), params.get("ra", ""))}</label>
<label>B {select("b", models, params.get("b", ""))} {select("rb", runs(rows_b), params.get("rb", ""))}</label>
{select("only", [("differ", "where they differ"), ("all", "all items")], params.get("only", "differ"))}
<input type="search" name="q" value="{esc(params.get("q", ""))}" placeholder="item id">
<button type="submit">compare</button></form>"""
