"""One consistent view of a results root at one moment: what the pages render.

A snapshot holds the manifest's entries, the stored rows without their outputs (the columns scoring
reads), the task-score frame, the edition's Scoreboard (or why there is none yet), coverage and run
progress. `LiveResults` (live.py) builds a new one whenever the manifest, the run config or a run log
changed; the outputs of one (task, model) are read on demand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd

from evalfleet.errors import EvalfleetError
from evalfleet.explore.catalog import Catalog
from evalfleet.explore.coverage import Coverage, coverage
from evalfleet.explore.runlog import RunProgress
from evalfleet.scoring.result import Scoreboard
from evalfleet.scoring.rules import parse_rules
from evalfleet.scoring.scoreboard import compute_scoreboard

LIGHT_DROP = ("output",)
"""Columns left out of the snapshot's rows (the one large text column; item pages read it per shard)."""


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Everything the pages show, as of `stamp`."""

    stamp: str
    """Changes whenever the manifest, run.yaml or the latest run log changes (the pages' refresh key)."""
    config: Mapping[str, Any]
    """run.yaml ({} before the first run wrote it)."""
    catalog: Catalog
    """The run config's tasks, items and models."""
    entries: tuple[dict, ...]
    """Manifest entries, sorted by task, model and shard index."""
    records: pd.DataFrame
    """Every stored row but its output text (metrics parsed into dicts)."""
    scores: pd.DataFrame
    """The task-score frame (`evalfleet.scoring.task_scores`)."""
    board: Scoreboard | None
    """Every view of the edition, or None (see `problem`)."""
    problem: str
    """Why there is no board yet ('' when there is one)."""
    coverage: Coverage
    """Items scored / planned per team and task."""
    progress: RunProgress | None
    """The latest run's progress (None before a run logged its start)."""
    notes: tuple[str, ...] = ()
    """Store warnings: torn manifest lines, unreadable shards left out."""

    @property
    def tasks(self) -> list[str]:
        """Task ids: the run config's first, then any other task stored."""
        return list(self.coverage.planned_from)

    @property
    def models(self) -> list[str]:
        """Model ids with coverage rows, sorted."""
        return sorted(set(self.coverage.models["model"]))


def score_board(scores: pd.DataFrame, catalog: Catalog, source: str, notes: tuple[str, ...]):
    """(Scoreboard or None, problem) of the task-score frame `scores` under the run's edition and track."""
    if scores.empty:
        return None, "no shard stored yet"
    if catalog.edition is None:
        return None, f"no edition rules to score with (run.yaml: {catalog.config.get('edition')!r})"
    try:
        rules = parse_rules(catalog.edition)
        track = str(catalog.config.get("track") or "")
        return compute_scoreboard(scores, rules, track=track, source=source, notes=notes), ""
    except (EvalfleetError, KeyError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}" if not isinstance(exc, EvalfleetError) else str(exc)


def build_snapshot(
    *,
    stamp: str,
    config: Mapping[str, Any],
    catalog: Catalog,
    entries: list[dict],
    records: pd.DataFrame,
    scores: pd.DataFrame,
    progress: RunProgress | None,
    source: str,
    notes: tuple[str, ...],
) -> Snapshot:
    """A snapshot of these rows and their task scores: board and coverage computed."""
    board, problem = score_board(scores, catalog, source, notes)
    return Snapshot(
        stamp=stamp,
        config=config,
        catalog=catalog,
        entries=tuple(sorted(entries, key=lambda e: (e["task"], e["model"], e.get("index", 0)))),
        records=records,
        scores=scores,
        board=board,
        problem=problem,
        coverage=coverage(records, catalog),
        progress=progress,
        notes=notes,
    )
