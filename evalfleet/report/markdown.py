"""The Markdown leaderboard: title with edition and track, the rules used, each view's top rows,
disqualifications and missing data spelled out; with a Confidence, places not separable from the next
marked '≈', the place interval beside each place, task values with their interval, a Confidence section."""

from __future__ import annotations

import pandas as pd

from evalfleet.report.confidence import legend, marked_table, summary_lines
from evalfleet.report.tables import fmt
from evalfleet.scoring.result import Confidence, Scoreboard, ViewResult


def md_table(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table ('|' in cells escaped)."""
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        cells = [fmt(v, c).replace("|", "\\|") for v, c in zip(row, cols)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _view(view: ViewResult, conf: Confidence | None = None) -> list[str]:
    out = [f"## {view.title}", ""]
    table = marked_table(view, conf) if conf is not None else view.table
    if "status" in table.columns:
        ok, dq = table[table["status"] == "ok"], table[table["status"] != "ok"]
    else:
        ok, dq = table, table.iloc[0:0]
    shown = ok.head(view.show_top)
    out += [md_table(shown), ""]
    if conf is not None:
        out += [f"_{legend(conf, 'place' in view.table.columns)}_", ""]
    if len(ok) > len(shown):
        out += [f"_Top {view.show_top} of {len(ok)} shown; all rows in `{view.name}.csv`._", ""]
    if len(dq):
        out += ["**Disqualified** (no points, no place):", ""]
        out += [f"- {r.team}: {r.note}" for r in dq.itertuples()] + [""]
    flags = [n for n in view.notes if not any(n.startswith(f"{t} (disqualified)") for t in dq.get("team", []))]
    if flags:
        out += ["Notes:", ""] + [f"- {n}" for n in flags] + [""]
    return out


def render_markdown(board: Scoreboard) -> str:
    """The whole Markdown leaderboard."""
    lines = [
        f"# {board.title}",
        "",
        f"Edition `{board.edition}`"
        + (f", track `{board.track}`" if board.track else "")
        + f". Scores from: {board.source or 'task-score frame'}.",
        "",
        "Rules applied:",
        "",
    ]
    lines += [f"- {r}" for r in board.rules] + [""]
    if board.notes:
        lines += ["Data notes:", ""] + [f"- {n}" for n in board.notes] + [""]
    for view in board.views:
        lines += _view(view, board.confidence)
    if board.confidence is not None:
        lines += ["## Confidence", ""] + [f"- {line}" for line in summary_lines(board.confidence)] + [""]
    return "\n".join(lines).rstrip() + "\n"
