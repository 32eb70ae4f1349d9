"""Reports of a Scoreboard: per-view CSV and Parquet, a Markdown leaderboard, an HTML page with plots.

`write_report(board, out)` writes into `out`:
  <view>.csv / <view>.parquet (+ <view>-<extra>.csv/.parquet), scores.csv/.parquet (the input),
  leaderboard.md, report.html (plots embedded as PNG), and returns the HTML path.
"""

from __future__ import annotations

from pathlib import Path

from evalfleet.report.html import render_html
from evalfleet.report.markdown import render_markdown
from evalfleet.report.tables import write_tables
from evalfleet.scoring.result import Scoreboard


def write_report(board: Scoreboard, out: Path) -> Path:
    """Write every file of the report into `out` (created if needed); return the HTML path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_tables(board, out)
    (out / "leaderboard.md").write_text(render_markdown(board), encoding="utf-8")
    html = out / "report.html"
    html.write_text(render_html(board), encoding="utf-8")
    return html
