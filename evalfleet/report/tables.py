"""Per-view tables as CSV and Parquet, and the number formatting shared by Markdown and HTML."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from evalfleet.scoring.result import Scoreboard

MISSING = "—"


def write_tables(board: Scoreboard, out: Path) -> list[Path]:
    """<view>.csv/.parquet for every view and extra table, plus scores.csv/.parquet; returns the paths.

    With a Confidence: confidence.csv, rank-stability.csv and paired-tests.csv (and .parquet) too.
    """
    written = []
    frames = [("scores", board.scores)]
    for view in board.views:
        frames.append((view.name, view.table))
        frames += [(f"{view.name}-{name}", frame) for name, frame in view.extra.items()]
    if board.confidence is not None:
        c = board.confidence
        frames += [("confidence", c.intervals), ("rank-stability", c.stability), ("paired-tests", c.tests)]
    for stem, frame in frames:
        frame = frame.reset_index(drop=True)
        frame.to_csv(out / f"{stem}.csv", index=False)
        _parquet_safe(frame).to_parquet(out / f"{stem}.parquet", index=False)
        written += [out / f"{stem}.csv", out / f"{stem}.parquet"]
    return written


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns mixing types become strings (Parquet needs one type per column)."""
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].map(lambda v: v if v is None or isinstance(v, str) else str(v))
    return frame


def fmt(value, column: str = "") -> str:
    """A cell as text: places and counts as integers, tiny numbers in scientific notation, NaN as a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if column in ("place", "n_models"):
            return f"{value:.0f}" if value.is_integer() else f"{value:.2f}"
        if column.endswith(" pts") or column == "total":
            return f"{value:.4g}"
        if value == 0:
            return "0"
        if abs(value) < 1e-3:
            return f"{value:.3g}"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)
