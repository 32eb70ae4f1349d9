"""The confidence of a Scoreboard as the reports show it: marked places, place ranges, intervals in cells.

Shared by the Markdown and the HTML report. A place not separable from the next one is marked '≈'
(the interval of the paired difference of the two totals includes 0); 'place 95%' is the place
interval over the bootstrap replicates; task values carry their interval as 'value (low–high)'.
"""

from __future__ import annotations

import math

import pandas as pd

from evalfleet.report.tables import fmt
from evalfleet.scoring.result import Confidence, ViewResult

NOT_SEPARABLE = "≈"
NO_INTERVAL = "no interval available"


def _level(conf: Confidence) -> str:
    return f"{conf.level:.0%}"


def legend(conf: Confidence, places: bool = True) -> str:
    """One line explaining the marks (`places`: the view has places; else its cells carry intervals)."""
    if not places:
        return f"Cells: value ({_level(conf)} interval over the bootstrap replicates); files: confidence.csv."
    return (
        f"{NOT_SEPARABLE} after a place: not separable from the next place (the {_level(conf)} interval of the "
        f"paired difference of their totals includes 0); place {_level(conf)}: the place interval over "
        "the bootstrap replicates. Files: confidence.csv, rank-stability.csv, paired-tests.csv."
    )


def stability_of(view: ViewResult, conf: Confidence) -> pd.DataFrame:
    """The view's rank-stability rows, indexed by team."""
    rows = conf.stability[conf.stability["view"] == view.name]
    return rows.drop_duplicates("team").set_index("team")


def place_range(low, high) -> str:
    """'1–3', '2' or the no-interval text."""
    if low is None or pd.isna(low) or pd.isna(high):
        return NO_INTERVAL
    return f"{low:.0f}" if low == high else f"{low:.0f}–{high:.0f}"


def marked_table(view: ViewResult, conf: Confidence) -> pd.DataFrame:
    """The view's table with '≈' on places not separable from the next and a 'place <level>' column."""
    table = view.table
    stab = stability_of(view, conf)
    if "place" not in table.columns or stab.empty:
        return _with_cell_intervals(view, conf)
    out = table.copy()
    marks, ranges = [], []
    for team, place in zip(out["team"], out["place"]):
        row = stab.loc[team] if team in stab.index else None
        marks.append(fmt(place, "place") + (f" {NOT_SEPARABLE}" if row is not None and not_separable(row) else ""))
        ranges.append(NO_INTERVAL if row is None else place_range(row["place_low"], row["place_high"]))
    out["place"] = marks
    out.insert(out.columns.get_loc("place") + 1, f"place {_level(conf)}", ranges)
    return out


def _with_cell_intervals(view: ViewResult, conf: Confidence) -> pd.DataFrame:
    """Task cells as 'value (low–high)' where the view has per-task intervals and no places."""
    rows = conf.intervals[conf.intervals["view"] == view.name].set_index(["team", "task"])
    out = view.table.copy()
    if rows.empty or "team" not in out.columns:
        return out
    for col in out.columns:
        if col == "team" or not any((t, col) in rows.index for t in out["team"]):
            continue
        out[col] = [_cell(v, rows, t, col) for t, v in zip(out["team"], out[col])]
    return out


def _cell(value, rows: pd.DataFrame, team: str, task: str) -> str:
    text = fmt(value, task)
    if (team, task) not in rows.index:
        return text
    r = rows.loc[(team, task)]
    if isinstance(r, pd.DataFrame):
        r = r.iloc[0]
    if math.isnan(r["ci_low"]):
        return text
    return f"{text} ({fmt(float(r['ci_low']), task)}–{fmt(float(r['ci_high']), task)})"


def summary_lines(conf: Confidence) -> list[str]:
    """Bullet lines: settings, adjacent places that are not separable per view, notes."""
    lines = [f"Settings: {conf.settings}."]
    stab = conf.stability
    for view, rows in stab.groupby("view", sort=False):
        pairs = _not_separable(rows)
        if pairs:
            lines.append(f"{view}: not separable — {'; '.join(pairs)}")
    tests = conf.tests
    if len(tests):
        low = int((tests["p_value"] < 1 - conf.level).sum())
        lines.append(
            f"Exact paired tests of adjacent places per task: {len(tests)} (p < {1 - conf.level:.2g}: {low}); "
            "see paired-tests.csv"
        )
    return lines + list(conf.notes)


def not_separable(row: pd.Series) -> bool:
    """True when the row's place is known not to be separable from the next (False/NA: separable or no next)."""
    value = row["separable_from_next"]
    return not pd.isna(value) and not bool(value)


def _not_separable(rows: pd.DataFrame, limit: int = 10) -> list[str]:
    rows = rows[rows["place"].notna()].reset_index(drop=True)
    out = []
    for i in range(len(rows) - 1):
        if not_separable(rows.loc[i]):
            a, b = rows.loc[i], rows.loc[i + 1]
            out.append(
                f"{fmt(a['place'], 'place')}. {a['team']} {NOT_SEPARABLE} {fmt(b['place'], 'place')}. {b['team']}"
            )
    return out[:limit] + ([f"… {len(out) - limit} more"] if len(out) > limit else [])


def stability_display(stab: pd.DataFrame, level: float) -> pd.DataFrame:
    """rank-stability rows for reading: place range, probabilities in percent, separable as yes / no."""

    def pct(v) -> str:
        return "—" if pd.isna(v) else f"{100 * v:.1f}%"

    return pd.DataFrame(
        {
            "place": stab["place"].to_numpy(),
            "team": stab["team"].to_numpy(),
            f"place {level:.0%}": [place_range(lo, hi) for lo, hi in zip(stab["place_low"], stab["place_high"])],
            "P(first)": [pct(v) for v in stab["p_first"]],
            "P(top 3)": [pct(v) for v in stab["p_top3"]],
            "P(in the points)": [pct(v) for v in stab["p_points"]],
            "separable from next": ["—" if pd.isna(v) else ("yes" if v else "no") for v in stab["separable_from_next"]],
        }
    )
