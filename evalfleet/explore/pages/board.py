"""The leaderboard page: run progress, coverage per team and task, then every view of the edition (the report's
tables, each cell linked to its task's page), one page of teams at a time."""

from __future__ import annotations

import time

import pandas as pd

from evalfleet.explore.coverage import Coverage
from evalfleet.explore.items import Page, paged
from evalfleet.explore.links import Links, slug
from evalfleet.explore.pages.layout import page
from evalfleet.explore.pages.markup import esc, link, pager, table
from evalfleet.explore.runlog import RunProgress
from evalfleet.explore.snapshot import Snapshot
from evalfleet.report.html import CellLink, html_table


def cell_links(tasks: list[str], links: Links) -> CellLink:
    """A leaderboard cell of a task column (or '<task> pts') links to that task's page, at the row's team."""
    known = set(tasks)

    def href(record: dict, column: str) -> str | None:
        task = column[:-4] if column.endswith(" pts") else column
        if task not in known:
            return None
        team = record.get("team")
        return links.task(task) + (f"#team-{slug(team)}" if team else "")

    return href


def status_badge(snap: Snapshot) -> str:
    """'provisional' (the incomplete tasks in its title) until every planned item is scored, then 'complete'."""
    pending = snap.coverage.provisional
    if pending:
        return f"<span class='badge provisional' title='{esc('incomplete: ' + ', '.join(pending))}'>provisional</span>"
    return "<span class='badge final'>complete</span>"


def progress_box(run: RunProgress | None, cov: Coverage) -> str:
    """Shards done / failed / retrying and the time left of the latest run, plus items scored overall."""
    scored, planned = cov.totals()
    share = scored / planned if planned else 0.0
    items = (
        f"<div id='coverage-total' data-scored='{scored}' data-planned='{planned}'>items scored: "
        f"<b>{scored}</b> of {planned} ({share:.0%})"
        f"<div class='bar'><span style='width:{share:.1%}'></span></div></div>"
    )
    if run is None:
        return f"<div class='progress'>{items}<p class='sub'>no run has logged its start here yet</p></div>"
    eta = run.eta()
    state = (
        f"finished {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(run.ended))}"
        if run.ended is not None
        else ("about " + duration(eta) + " left" if eta is not None else "running")
    )
    facts = (
        f"<div id='run-progress' data-done='{run.done}' data-to-run='{run.to_run}' data-failed='{run.failed}' "
        f"data-retrying='{run.retrying}' data-finished='{int(run.ended is not None)}'>"
        f"run <code>{esc(run.run_id)}</code>: "
        f"shards <b>{run.done}</b> of {run.to_run} done ({run.shards - run.to_run} already stored), "
        f"{run.failed} failed, {run.retrying} retrying ({run.retries} retries) · {esc(state)}</div>"
    )
    return f"<div class='progress'>{facts}{items}</div>"


def duration(seconds: float) -> str:
    """'42 s', '3.5 min' or '2.1 h'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def coverage_table(snap: Snapshot, links: Links, number: int) -> tuple[str, Page]:
    """Teams x tasks: 'scored / planned' per cell (yellow until complete), linked to the task page."""
    cov = snap.coverage.teams
    teams = sorted(set(cov["team"]))
    one = paged(pd.DataFrame({"team": teams}), number)
    wide = {(r.team, r.task): r for r in cov.itertuples()}
    rows, ids = [], []
    for team in one.rows["team"]:
        cells = [esc(team)]
        for task in snap.tasks:
            r = wide.get((team, task))
            if r is None:
                cells.append("—")
                continue
            text = f"{r.scored} / {r.planned}"
            cells.append(
                (link(links.task(task) + f"#team-{slug(team)}", text), "complete" if r.complete else "partial")
            )
        rows.append(cells)
        ids.append(f"coverage-{slug(team)}")
    heads = ["team"] + [t + (" (provisional)" if t in snap.coverage.provisional else "") for t in snap.tasks]
    return table(heads, rows, klass="coverage", row_ids=ids), one


def views(snap: Snapshot, links: Links, number: int) -> tuple[str, Page | None]:
    """Every view, the rows of page `number` of each."""
    if snap.board is None:
        return f"<p class='notes'>No leaderboard yet: {esc(snap.problem)}</p>", None
    parts, longest = [], None
    link_cell = cell_links(snap.tasks, links)
    for view in snap.board.views:
        one = paged(view.table, number)
        longest = one if longest is None or one.pages > longest.pages else longest
        parts.append(f"<h2 id='view-{esc(view.name)}'>{esc(view.title)}</h2>")
        parts.append(html_table(one.rows, link=link_cell))
        if view.notes:
            parts.append("<div class='notes'><ul>" + "".join(f"<li>{esc(n)}</li>" for n in view.notes) + "</ul></div>")
    return "\n".join(parts), longest


def render_board(snap: Snapshot, links: Links, number: int = 1) -> str:
    """The leaderboard page (page `number` of teams)."""
    board = snap.board
    title = board.title if board else f"Results in {snap.config.get('edition') or 'this root'}"
    cov_html, cov_page = coverage_table(snap, links, number)
    views_html, view_page = views(snap, links, number)
    longest = max([cov_page] + ([view_page] if view_page else []), key=lambda p: p.pages)
    provisional = snap.coverage.provisional
    warn = (
        "<p class='notes'>Provisional until complete: "
        + ", ".join(f"{esc(t)}" for t in provisional)
        + ". Scores of an incomplete task cover only the items stored so far.</p>"
        if provisional
        else ""
    )
    rules = "".join(f"<li>{esc(r)}</li>" for r in board.rules) if board else ""
    notes = "".join(f"<li>{esc(n)}</li>" for n in (board.notes if board else snap.notes))
    main = f"""<h1>{esc(title)} {status_badge(snap)}</h1>
<p class="sub">Edition <code>{esc(snap.config.get("edition", "—"))}</code>, track
<code>{esc(snap.config.get("track") or "—")}</code> · {len(set(snap.coverage.teams["team"]))} teams ·
{len(snap.entries)} shards stored · results in <code>{esc(snap.config.get("results") or "")}</code></p>
{progress_box(snap.progress, snap.coverage)}
{warn}
<h2 id="coverage">Coverage (items scored / planned)</h2>
{cov_html}
{views_html}
{pager(longest, links.index, "teams")}
{f"<h2>Rules applied</h2><ul class='rules'>{rules}</ul>" if rules else ""}
{f"<div class='notes'><b>Notes</b><ul>{notes}</ul></div>" if notes else ""}"""
    return page(title, main, links, stamp=snap.stamp, crumbs=[(links.index(), "Leaderboard")])
