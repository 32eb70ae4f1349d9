"""`evalfleet export-site`: the explorer's pages written as a static folder (no server, no script).

Written: index.html (and index-p2.html, ...), report.html (cells linked), tasks/<task>.html per task, and —
only for tasks whose items may be published (publish.py: never a holdout task's unless the edition's
`publish_items` lists it) — items/<task>/<model>.html and item/<task>/<model>/<item>.html. Compare pages
and filters need the server and are left out; every link in the folder resolves inside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from evalfleet.explore.items import ItemQuery, pages_of
from evalfleet.explore.links import Links
from evalfleet.explore.live import LiveResults
from evalfleet.explore.pages.board import cell_links, render_board
from evalfleet.explore.pages.item import render_item
from evalfleet.explore.pages.items import render_items
from evalfleet.explore.pages.task import model_scores, render_task
from evalfleet.explore.prompt import Prompts
from evalfleet.explore.publish import items_published
from evalfleet.explore.snapshot import Snapshot
from evalfleet.report.html import render_html

ROOT = Links(static=True)
"""Links of a page at the folder's root."""


@dataclass(frozen=True)
class SiteSummary:
    """What `export_site` wrote."""

    out: Path
    """The folder."""
    pages: int
    """HTML files written."""
    published: tuple[str, ...]
    """Tasks whose item pages were written."""
    withheld: tuple[str, ...]
    """Tasks whose items were kept back (holdout, or not in `publish_items`)."""


def export_site(root: str, out: Path, *, data_dir: str | None = None) -> SiteSummary:
    """Write the static site of results root `root` into `out` (created if needed); `data_dir` overrides
    run.yaml's (where the items whose prompts are shown are read)."""
    out = Path(out)
    live = LiveResults(root, data_dir=data_dir)
    snap = live.snapshot(wait=True)
    written: list[Path] = []

    def write(rel: str, text: str) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)

    teams = len(set(snap.coverage.teams["team"]))
    longest = max([teams] + ([len(v.table) for v in snap.board.views] if snap.board else []))
    for n in range(1, pages_of(longest) + 1):
        write(ROOT.index(n), render_board(snap, ROOT, n))
    if snap.board is not None:
        write("report.html", render_html(snap.board, link=cell_links(snap.tasks, ROOT)))
    published = tuple(t for t in snap.tasks if items_published(t, snap.catalog))
    prompts = Prompts(snap.catalog)
    for task in snap.tasks:
        links = ROOT.at(1)
        rows, _ = model_scores(snap, task)
        for n in range(1, pages_of(len(rows)) + 1):
            write(ROOT.task(task, n), render_task(snap, task, links, n, items=task in published))
        if task in published:
            for model in sorted(set(rows["model"])):
                write_items(live, snap, prompts, task, model, write)
    withheld = tuple(t for t in snap.tasks if t not in published)
    return SiteSummary(out, len(written), published, withheld)


def write_items(
    live: LiveResults, snap: Snapshot, prompts: Prompts, task: str, model: str, write: Callable[[str, str], None]
) -> None:
    """The item list pages and item pages of (task, model)."""
    rows = live.rows(task, model, snap)
    if rows.empty:
        return
    links = ROOT.at(2)
    for n in range(1, pages_of(len(rows)) + 1):
        html = render_items(snap, rows, task, model, ItemQuery(page=n), links)
        write(ROOT.items(task, model, n), html)
    links = ROOT.at(3)
    for item_id, item_rows in rows.groupby("item_id", sort=True):
        first = item_rows.iloc[0]
        check = prompts.check(task, model, item_id, str(first["prompt_style"]), str(first["prompt_hash"] or ""))
        html = render_item(snap, item_rows, task, model, item_id, prompts.item(task, item_id), check, links)
        write(ROOT.item(task, model, item_id), html)
