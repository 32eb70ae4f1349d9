"""What the scoring layer hands to the report: one ViewResult per view, one Scoreboard per run, and
optionally the Confidence of the paired bootstrap (intervals, place intervals, paired tests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import pandas as pd


@dataclass(frozen=True, eq=False)
class ViewResult:
    """One computed view of one edition and track."""

    name: str
    """View name as in the rule file, e.g. 'rank-points'; also the stem of its output files."""
    title: str
    """Heading shown in the reports."""
    table: pd.DataFrame
    """The leaderboard, best first (ineligible teams last)."""
    extra: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    """Supporting tables written beside it ('detail', 'leaders', ...), name -> frame."""
    notes: tuple[str, ...] = ()
    """Flags and decisions a reader must see (missing data, disqualifications, left-out metrics)."""
    show_top: int = 15
    """Rows shown in the Markdown leaderboard (CSV/Parquet/HTML hold all)."""


@dataclass(frozen=True, eq=False)
class Confidence:
    """How certain the leaderboard is: the paired bootstrap over items pushed through the edition's rules."""

    intervals: pd.DataFrame
    """confidence.csv: view, team, task, value, ci_low, ci_high, n_items (NaN interval: none available)."""
    stability: pd.DataFrame
    """rank-stability.csv: view, team, place, place_low, place_high, p_first, p_top3, p_points,
    separable_from_next."""
    tests: pd.DataFrame
    """paired-tests.csv: exact paired test per task of each pair of adjacent places."""
    settings: str
    """The settings in one line (replicates, seed, level)."""
    level: float = 0.95
    """Two-sided level of every interval."""
    notes: tuple[str, ...] = ()
    """What the intervals hold fixed or could not cover (throughput, imported tables, ...)."""


@dataclass(frozen=True, eq=False)
class Scoreboard:
    """Every view of one scoring, with what it was computed from."""

    edition: str
    """Rule file name, e.g. 'edge-llm-2024'."""
    description: str
    """The edition's one-line description."""
    track: str
    """Track scored ('' when the edition has none)."""
    rules: tuple[str, ...]
    """The rules applied, one human-readable line each (shown at the top of every report)."""
    source: str
    """Where the scores came from (results root or table files)."""
    views: tuple[ViewResult, ...]
    """The computed views, in rule-file order."""
    scores: pd.DataFrame
    """The task-score frame the views were computed from."""
    notes: tuple[str, ...] = ()
    """Input-level notes (importer decisions, tasks not evaluated)."""
    confidence: Confidence | None = None
    """Intervals and place stability (None: not computed, e.g. `evalfleet score --no-confidence`)."""

    @property
    def title(self) -> str:
        """'<description> — <track> track'."""
        return f"{self.description} — {self.track} track" if self.track else self.description
