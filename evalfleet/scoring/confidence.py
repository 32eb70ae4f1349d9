"""Leaderboard confidence: a paired bootstrap over items pushed through each edition's own rules.

    compute_confidence(board, rules, records, settings) -> Confidence
    records: collect_items(one (task, model) group at a time, ...) or one frame of the store's rows

Each replicate resamples every task's items with replacement (within subsets where the task averages
per subset; all samples of an item together), the same draw for every team and every model (paired),
recomputes each model's task score with its benchmark module's aggregation (confidence_items,
confidence_draws) and then the view exactly as `evalfleet score` does (confidence_views). From the
replicates: a percentile interval per (team, task) and per total, each team's place interval,
P(first), P(top 3), P(in the points), whether adjacent places are separable, and an exact paired test
per task for each pair of adjacent places (paired_tests). Throughput and memory are held fixed (the
probe's repetitions are not recorded per item); imported tables have no items: no interval available.
Pure: the same records and settings give the same frames, bit for bit.
"""

from __future__ import annotations

import pandas as pd

from evalfleet.errors import EvalfleetError
from evalfleet.scoring.confidence_draws import RecordedItems, TaskDrawer, frame_items
from evalfleet.scoring.confidence_rules import ConfidenceSettings
from evalfleet.scoring.confidence_views import HANDLERS, INTERVAL_COLUMNS, Context, Mismatch, Part
from evalfleet.scoring.paired_tests import TEST_COLUMNS
from evalfleet.scoring.places import STABILITY_COLUMNS
from evalfleet.scoring.result import Confidence, Scoreboard, ViewResult
from evalfleet.scoring.rules import ScoringRules


def compute_confidence(
    board: Scoreboard,
    rules: ScoringRules,
    records: pd.DataFrame | RecordedItems | None,
    settings: ConfidenceSettings,
) -> Confidence:
    """Intervals, place stability and paired tests of every view of `board` from the recorded rows.

    records: the store's items as read one (task, model) group at a time (`collect_items`, what `evalfleet
    score` passes), or one frame of its rows (`ResultStore.read_records()`); None or empty for tables
    without items. Both give the same frames, bit for bit.
    """
    if not isinstance(records, RecordedItems):
        records = frame_items(records if records is not None else pd.DataFrame(columns=["task", "model"]), board.scores)
    drawer = TaskDrawer(records, board.scores, settings.replicates, settings.seed)
    ctx = Context(rules, rules.track(board.track), drawer, board.scores, settings)
    parts = [_view_part(view, ctx) for view in board.views]
    notes = [n for p in parts for n in p.notes]
    slow = sorted({td.matrix.task for td in drawer.cache.values() if td is not None and not td.weighted})
    if slow:
        notes.append(f"aggregated per replicate by the module itself (no weighted-mean form): {', '.join(slow)}")
    notes.append(
        "the intervals cover which items were drawn, not the model's own sampling noise (greedy outputs "
        "are fixed), judge noise or hardware nondeterminism"
    )
    return Confidence(
        intervals=_frame([f for p in parts for f in p.intervals], INTERVAL_COLUMNS),
        stability=_frame([f for p in parts for f in p.stability], STABILITY_COLUMNS),
        tests=pd.DataFrame([t for p in parts for t in p.tests], columns=TEST_COLUMNS),
        settings=settings.describe(),
        level=settings.level,
        notes=tuple(dict.fromkeys(notes)),
    )


def _view_part(view: ViewResult, ctx: Context) -> Part:
    handler = HANDLERS.get(view.name)
    if handler is None:
        return Part(notes=(f"{view.name}: no interval available (view not supported by the bootstrap)",))
    try:
        return handler(view, ctx)
    except Mismatch as exc:
        return Part(notes=(f"{exc}: no interval available for this view (please report it)",))
    except EvalfleetError as exc:
        return Part(notes=(f"{view.name}: no interval available ({exc})",))


def _frame(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]
