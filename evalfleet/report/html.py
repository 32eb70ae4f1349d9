"""The HTML report: one self-contained page (CSS inline, plots embedded as PNG data URIs).

A small script marks the page once every plot image has decoded (`<body data-plots-decoded=N>`),
which the browser test reads from Chromium's --dump-dom output. `link` (used by `evalfleet serve` and
`evalfleet export-site`) turns leaderboard cells into links to the explorer's pages.
"""

from __future__ import annotations

import base64
import html
from datetime import datetime, timezone
from typing import Callable

import pandas as pd

from evalfleet.report import plots
from evalfleet.report.confidence import legend, marked_table, stability_display, summary_lines
from evalfleet.report.tables import MISSING, fmt
from evalfleet.scoring.result import Confidence, Scoreboard, ViewResult

CSS = """
body{font-family:"DejaVu Sans",Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1200px;color:#1d1d1f;
padding:0 1rem}
h1{font-size:1.7rem;margin-bottom:.2rem} h2{margin-top:2.4rem;border-bottom:2px solid #ddd;padding-bottom:.3rem}
.sub{color:#555;margin-top:0} .rules{background:#f5f7fa;border-left:4px solid #4a6fa5;padding:.6rem 1rem .6rem 1.6rem}
.rules li{margin:.15rem 0} table{border-collapse:collapse;margin:.8rem 0;font-size:.78rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:right;white-space:nowrap}
th{background:#eef1f5}
td.text{text-align:left;white-space:normal;overflow-wrap:break-word;min-width:6rem;max-width:26rem}
tr.dq td{background:#fbe9e9;color:#8a1f1f} tr.top td:first-child{font-weight:bold}
td.missing{background:#fff4d6;color:#8a5a00}
.notes{background:#fffbea;border-left:4px solid #e0b300;padding:.4rem 1rem .4rem 1.6rem}
img.plot{max-width:100%;border:1px solid #e3e3e3;margin:.6rem 0} .scroll{overflow-x:auto}
footer{margin-top:3rem;color:#777;font-size:.8rem}
"""

SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.querySelectorAll('img.plot'));
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-plots', String(imgs.length));
  document.body.setAttribute('data-plots-decoded', String(ok.length));
});
"""


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img class="plot" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


CellLink = Callable[[dict, str], str | None]
"""(row as {column: value}, column) -> the href of that cell, or None."""


def html_table(frame: pd.DataFrame, *, show_top: int | None = None, link: CellLink | None = None) -> str:
    """A table; disqualified rows red, missing cells yellow, top `show_top` eligible rows marked; `link` gives
    cells an href."""
    cols = [str(c) for c in frame.columns]
    head = "".join(f"<th>{html.escape(c[:-4] if c.endswith(' pts') else c)}</th>" for c in cols)
    body = []
    for i, row in enumerate(frame.itertuples(index=False)):
        record = dict(zip(cols, row))
        dq = record.get("status", "ok") != "ok"
        klass = "dq" if dq else ("top" if show_top and i < show_top else "")
        cells = []
        for c, v in record.items():
            text = fmt(v, c)
            kind = "missing" if text == MISSING and c not in ("place",) else ("text" if isinstance(v, str) else "")
            href = link(record, c) if link else None
            cell = f'<a href="{html.escape(href)}">{html.escape(text)}</a>' if href else html.escape(text)
            cells.append(f'<td class="{kind}">{cell}</td>')
        body.append(f'<tr class="{klass}">' + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _figures(view: ViewResult, board: Scoreboard) -> list[str]:
    t = view.table
    if view.name == "averaged-three-model":
        tasks = [c for c in t.columns if c not in ("team", "flags")]
        return [_img(plots.task_score_bars(t, tasks, f"Per-task team scores — {board.title}"), "per-task score bars")]
    if view.name == "rank-points":
        figs = [_img(plots.stacked_points(t, f"Points per team and task — {board.title}"), "stacked points per team")]
        detail = view.extra["detail"]
        wide = detail[detail["kind"] != "throughput"].pivot(index="team", columns="task", values="value").reset_index()
        if "averaged-three-model" not in [v.name for v in board.views]:
            figs.insert(
                0,
                _img(
                    plots.task_score_bars(
                        wide, [c for c in wide.columns if c != "team"], f"Per-task team scores — {board.title}"
                    ),
                    "per-task score bars",
                ),
            )
        return figs
    if view.name == "geometric-mean":
        sets = [c for c in t.columns if str(c).startswith("Score_") and c != "Score_full"]
        mwr = [c for c in t.columns if str(c).endswith(" MWR")]
        return [
            _img(plots.set_scores(t, sets + ["Score_full"], f"Official 2023 scores — {board.title}"), "set scores"),
            _img(plots.heatmap(t, mwr, "Mean win rate per scenario (official calc_win_rate)"), "scenario win rates"),
        ]
    if view.name == "helm-mean-win-rate":
        cols = [c for c in t.columns if str(c).startswith("HELM MWR")]
        return [_img(plots.set_scores(t, cols, "HELM mean win rate (not the official score)"), "HELM mean win rate")]
    if view.name == "delta":
        cases = [c for c in t.columns if c not in ("place", "team", "grand", "note")]
        return [
            _img(
                plots.delta_bars(t, cases, f"Delta over the base model per use case — {board.title}"),
                "delta bars per use case",
            )
        ]
    return []


def _confidence(view: ViewResult, conf: Confidence, title: str) -> list[str]:
    """The view's error bars, place-interval chart and stability table."""
    parts = [f"<p class='sub'>{html.escape(legend(conf, 'place' in view.table.columns))}</p>"]
    rows = conf.intervals[(conf.intervals["view"] == view.name) & conf.intervals["ci_low"].notna()]
    if len(rows):
        png = plots.interval_bars(rows, f"{conf.level:.0%} intervals — {view.title}")
        parts.append(_img(png, "error bars of every value"))
    stab = conf.stability[conf.stability["view"] == view.name]
    if len(stab) and stab["place_low"].notna().any():
        parts.append(_img(plots.place_intervals(stab, f"Place intervals — {title}"), "place intervals"))
        parts.append("<h3>Place stability</h3>" + html_table(stability_display(stab, conf.level)))
    return parts


def _view(view: ViewResult, board: Scoreboard, link: CellLink | None = None) -> str:
    parts = [f"<h2>{html.escape(view.title)}</h2>"]
    parts += _figures(view, board)
    if view.name == "rank-points":
        parts.append("<p class='sub'>Points per task (places 1–10), throughput doubled; disqualified teams in red.</p>")
    table = marked_table(view, board.confidence) if board.confidence is not None else view.table
    parts.append(html_table(table, show_top=view.show_top if view.show_top < len(view.table) else None, link=link))
    if board.confidence is not None:
        parts += _confidence(view, board.confidence, board.title)
    if view.show_top < len(view.table):
        parts.append(f"<p class='sub'>The organizers display the top {view.show_top} (bold); every team is listed.</p>")
    for name, frame in view.extra.items():
        if name in ("leaders",):
            parts.append(f"<h3>{html.escape(name.capitalize())}</h3>" + html_table(frame))
    if view.notes:
        parts.append(
            "<div class='notes'><b>Notes</b><ul>"
            + "".join(f"<li>{html.escape(n)}</li>" for n in view.notes)
            + "</ul></div>"
        )
    parts.append(
        f"<p class='sub'>Files: <code>{view.name}.csv</code>, <code>{view.name}.parquet</code>"
        + "".join(f", <code>{view.name}-{n}.csv</code>" for n in view.extra)
        + "</p>"
    )
    return "\n".join(parts)


def _summary(conf: Confidence | None) -> str:
    if conf is None:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in summary_lines(conf))
    return f"<h2>Confidence</h2><div class='notes'><ul>{items}</ul></div>"


def render_html(board: Scoreboard, *, link: CellLink | None = None) -> str:
    """The whole page; `link` links leaderboard cells (the explorer's pages)."""
    rules = "".join(f"<li>{html.escape(r)}</li>" for r in board.rules)
    notes = (
        (
            "<div class='notes'><b>Data notes</b><ul>"
            + "".join(f"<li>{html.escape(n)}</li>" for n in board.notes)
            + "</ul></div>"
        )
        if board.notes
        else ""
    )
    teams = board.scores.loc[board.scores["role"] == "submission", "team"].nunique()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    track = f", track <code>{html.escape(board.track)}</code>" if board.track else ""
    recompute = "Every number can be recomputed from the recorded results with <code>evalfleet score</code>."
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(board.title)}</title><style>{CSS}</style>
<script>{SCRIPT}</script></head>
<body>
<h1>{html.escape(board.title)}</h1>
<p class="sub">Edition <code>{html.escape(board.edition)}</code>{track}
 · {teams} teams · scores from {html.escape(board.source or "task-score frame")}</p>
<h2>Rules applied</h2><ul class="rules">{rules}</ul>
{notes}
{"".join(_view(v, board, link) for v in board.views)}
{_summary(board.confidence)}
<footer>Generated by evalfleet on {stamp}. {recompute}</footer>
</body></html>
"""
