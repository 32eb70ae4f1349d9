"""Each view's rules applied to every bootstrap replicate at once: team scores, points, totals, places.

A view's team score of a task is linear in its models' task scores (V @ W: the mean of a team's
families under the track's missing-family policy; submission minus base for the delta view), so the
replicates of every team come from the models' replicates in one product. The rest is the view's own
rule, vectorised over replicates: rank points (tie rounding, shared places, the tie policy, the memory
gate as decided by the official view, throughput points held fixed), the delta grand sum, the 2023 win
rates and geometric means. Each handler first recomputes the official numbers from the recorded
point values and stops with `Mismatch` if they differ: the intervals never describe another rule.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from evalfleet.scoring.averaged import family_of
from evalfleet.scoring.confidence_draws import TaskDraws
from evalfleet.scoring.confidence_rules import ConfidenceSettings
from evalfleet.scoring.frame import headline, resolve_tasks
from evalfleet.scoring.paired_tests import TEST_COLUMNS, paired_test
from evalfleet.scoring.places import (
    STABILITY_COLUMNS,
    min_max_places,
    points_for,
    quantiles,
    round_decimals,
    round_significant,
    stability,
)
from evalfleet.scoring.ranking import places
from evalfleet.scoring.result import ViewResult
from evalfleet.scoring.rules import ScoringRules, TrackRules
from evalfleet.scoring.scoreboard import _helm_values

INTERVAL_COLUMNS = ["view", "team", "task", "value", "ci_low", "ci_high", "n_items"]
TOLERANCE = 1e-9


class Mismatch(Exception):
    """The vectorised recomputation of a view's point values differs from the official view."""


@dataclass(frozen=True, eq=False)
class Context:
    """What every view handler reads."""

    rules: ScoringRules
    """The edition's rules."""
    track: TrackRules
    """The track scored."""
    draw: Callable[[str, str], TaskDraws | None]
    """(task, metric) -> the models' replicates, None without items."""
    scores: pd.DataFrame
    """The task-score frame of the scoreboard."""
    settings: ConfidenceSettings
    """Replicates, seed, level."""


@dataclass(frozen=True, eq=False)
class TeamTask:
    """One task's team values of one view, point and replicates."""

    task: str
    """Task id (or use case / metric name the view reports)."""
    teams: tuple[str, ...]
    """Team order of every array."""
    point: np.ndarray
    """The official values."""
    draws: np.ndarray
    """replicates x teams; teams held fixed repeat their official value."""
    fixed: np.ndarray
    """Teams without recorded items (imported score, no score): no interval."""
    items: np.ndarray | None
    """items x teams per-item team scores (paired tests), None without items."""
    n_items: int
    """Items of the task."""


@dataclass(frozen=True, eq=False)
class Part:
    """A view's contribution to the confidence files."""

    intervals: list[pd.DataFrame] = field(default_factory=list)
    """confidence.csv rows."""
    stability: list[pd.DataFrame] = field(default_factory=list)
    """rank-stability.csv rows."""
    tests: list[dict] = field(default_factory=list)
    """paired-tests.csv rows."""
    notes: tuple[str, ...] = ()
    """Notes for the report."""


def combine(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """values @ weights where a NaN value spoils only the columns that weigh it."""
    bad = np.isnan(values)
    if not bad.any():
        return values @ weights
    out = np.where(bad, 0.0, values) @ weights
    out[(bad.astype(float) @ (weights != 0)) > 0] = np.nan
    return out


def _check(view: str, what: str, computed: np.ndarray, official: np.ndarray) -> None:
    computed, official = np.asarray(computed, float), np.asarray(official, float)
    same = (np.isnan(computed) & np.isnan(official)) | (
        np.abs(computed - official) <= TOLERANCE * np.maximum(1.0, np.abs(official))
    )
    if not same.all():
        raise Mismatch(f"{view}: recomputed {what} differs from the official view")


def family_weights(models: list[tuple[str, str, float]], track: TrackRules) -> dict[str, float] | None:
    """Model -> weight in its team's score of one task (averaged-three-model's rule); None: no team score.

    models: (model, family, value) of the team's headline rows for the task.
    """
    scored = [(model, family) for model, family, value in models if not pd.isna(value)]
    if not track.families:
        return {scored[0][0]: 1.0} if scored else None
    present = {family_of(family, track): model for model, family in scored}
    missing = [f for f in track.families if f not in present]
    if not present or (missing and track.missing_family == "exclude"):
        return None
    n = len(track.families) if missing and track.missing_family == "zero" else len(present)
    return {model: 1.0 / n for model in present.values()}


def averaged_weights(
    rows: pd.DataFrame, models: tuple[str, ...], teams: list[str], track: TrackRules
) -> tuple[np.ndarray, np.ndarray]:
    """(W, usable): team scores = model scores @ W; usable = every weighted model has recorded items.

    A team score imported as such (empty family) or from a model without items is not usable (held fixed).
    """
    index = {m: i for i, m in enumerate(models)}
    by_team: dict[str, list[tuple[str, str, float]]] = {}
    for team, model, family, value in zip(rows["team"], rows["model"], rows["family"], rows["value"]):
        by_team.setdefault(str(team), []).append((str(model), "" if pd.isna(family) else str(family), value))
    w, usable = np.zeros((len(models), len(teams))), np.zeros(len(teams), dtype=bool)
    for t, team in enumerate(teams):
        mine = by_team.get(team, [])
        if not mine or any(family == "" for _, family, _ in mine):
            continue
        weights = family_weights(mine, track)
        if weights is None or any(m not in index for m in weights):
            continue
        for model, value in weights.items():
            w[index[model], t] = value
        usable[t] = True
    return w, usable


def team_task(
    view: str,
    task: str,
    td: TaskDraws | None,
    w: np.ndarray,
    usable: np.ndarray,
    teams: list[str],
    official,
    reps: int,
    item_weights: np.ndarray | None = None,
) -> TeamTask:
    """Team values of one task from the models' replicates (teams not `usable` held at `official`).

    Per-item team scores for the paired tests weigh the items by `item_weights` (default: the positive
    part of `w`, i.e. a team's own models; the base model of the delta view cancels in a comparison).
    """
    official = np.asarray(official, dtype=float)
    draws = np.tile(official, (reps, 1))
    fixed, items, n_items = np.ones(len(teams), dtype=bool), None, 0
    if td is not None and usable.any():
        _check(view, f"'{task}' team values", combine(td.point[None, :], w)[0][usable], official[usable])
        draws[:, usable] = combine(td.draws, w)[:, usable]
        fixed = ~usable
        items = combine(td.matrix.item_scores(), np.clip(w if item_weights is None else item_weights, 0, None))
        n_items = td.matrix.n_items
    return TeamTask(task, tuple(teams), official, draws, fixed, items, n_items)


def interval_frame(view: str, tt: TeamTask, q: tuple[float, float], task: str | None = None) -> pd.DataFrame:
    """confidence.csv rows of one task (fixed teams: no interval)."""
    low, high = quantiles(tt.draws, q)
    low[tt.fixed], high[tt.fixed] = np.nan, np.nan
    return pd.DataFrame(
        {
            "view": view,
            "team": list(tt.teams),
            "task": task or tt.task,
            "value": tt.point,
            "ci_low": low,
            "ci_high": high,
            "n_items": np.where(tt.fixed, 0, tt.n_items).astype(int),
        },
        columns=INTERVAL_COLUMNS,
    )


def total_frame(view, teams, name, point, draws, usable, n_items, q) -> pd.DataFrame:
    """confidence.csv rows of a view's total (grand, points, Score_full)."""
    tt = TeamTask(name, tuple(teams), np.asarray(point, float), draws, ~usable, None, n_items)
    return interval_frame(view, tt, q)


def adjacent_tests(view: str, order: list[str], tts: list[TeamTask]) -> list[dict]:
    """Exact paired test per task of each pair of adjacent places (`order`: placed teams, best first)."""
    out = []
    for a, b in zip(order, order[1:]):
        for tt in tts:
            if tt.items is None:
                continue
            i, j = tt.teams.index(a), tt.teams.index(b)
            if tt.fixed[i] or tt.fixed[j]:
                continue
            out.append(
                dict(view=view, task=tt.task, team=a, next_team=b, **paired_test(tt.items[:, i], tt.items[:, j]))
            )
    return out


def view_stability(
    name: str, teams: list[str], place, totals: np.ndarray, ranked: np.ndarray, tts: list[TeamTask], ctx, view
) -> pd.DataFrame:
    """rank-stability rows; a view none of whose values has recorded items gets no place interval at all."""
    resampled = any(not tt.fixed.all() for tt in tts)
    stab = stability(
        name,
        teams,
        place,
        totals,
        ranked if resampled else ranked * np.nan,
        ctx.settings.quantiles,
        points_places(ctx, view),
    )
    if not resampled:
        stab["separable_from_next"] = pd.array([pd.NA] * len(stab), dtype="boolean")
    return stab


def points_places(ctx: Context, view: ViewResult) -> int:
    """K of P(in the points): the rule file's setting, the points table's length, else the displayed places."""
    if ctx.settings.points_places:
        return ctx.settings.points_places
    return len(ctx.rules.rank_points.task_points) if ctx.rules.rank_points else view.show_top


def _placed_order(teams: list[str], place: np.ndarray) -> list[str]:
    return [teams[i] for i in sorted(range(len(teams)), key=lambda i: (place[i], teams[i])) if not np.isnan(place[i])]


def _team_tasks(view: ViewResult, ctx: Context, tasks: list[str], teams: list[str], official) -> list[TeamTask]:
    subs = ctx.scores[ctx.scores["role"] == "submission"]
    out = []
    for task in tasks:
        rows = headline(subs, [task], ctx.rules.metrics)
        td = ctx.draw(task, str(rows["metric"].iloc[0])) if len(rows) else None
        w, usable = averaged_weights(rows, td.matrix.models if td else (), teams, ctx.track)
        reps = ctx.settings.replicates
        out.append(team_task(view.name, task, td, w, usable, teams, official(task), reps))
    return out


def averaged_view(view: ViewResult, ctx: Context) -> Part:
    """averaged-three-model: per (team, task) intervals; per task place intervals ('averaged-three-model/<task>')."""
    long = view.extra["long"]
    teams = list(view.table["team"])
    tasks = list(dict.fromkeys(long["task"]))
    q = ctx.settings.quantiles
    decimals = ctx.rules.rank_points.tie_decimals if ctx.rules.rank_points else 9
    official = lambda task: long[long["task"] == task].set_index("team")["value"].reindex(teams)  # noqa: E731
    part = Part()
    for tt in _team_tasks(view, ctx, tasks, teams, official):
        name = f"{view.name}/{tt.task}"
        part.intervals.append(interval_frame(view.name, tt, q))
        place = places(pd.Series(tt.point), decimals=decimals).to_numpy()
        ranked = round_decimals(tt.draws, decimals)
        part.stability.append(view_stability(name, teams, place, tt.draws, ranked, [tt], ctx, view))
        part.tests.extend(adjacent_tests(name, _placed_order(teams, place), [tt]))
    return part


def rank_points_view(view: ViewResult, ctx: Context) -> Part:
    """rank-points: team-score intervals per task, the total's interval, place intervals, separability."""
    rp, board, detail = ctx.rules.rank_points, view.table, view.extra["detail"]
    teams = sorted(board["team"])
    indexed = board.set_index("team").reindex(teams)
    eligible = (indexed["status"] == "ok").to_numpy()
    tasks = list(dict.fromkeys(detail.loc[detail["kind"] != "throughput", "task"]))
    thr = detail[detail["kind"] == "throughput"].set_index("team")["points"].reindex(teams).fillna(0.0).to_numpy()
    official = lambda task: detail[detail["task"] == task].set_index("team")["value"].reindex(teams)  # noqa: E731
    tts = _team_tasks(view, ctx, tasks, teams, official)

    def totals(values: list[np.ndarray]) -> np.ndarray:
        total = np.zeros_like(values[0]) + thr if values else np.tile(thr, (1, 1))
        for v in values:
            best, worst = min_max_places(round_decimals(np.where(eligible, v, np.nan), rp.tie_decimals))
            total = total + points_for(best, worst, rp.task_points, rp.ties)
        return total

    _check(view.name, "totals", totals([tt.point[None, :] for tt in tts])[0], indexed["total"].to_numpy())
    draws = totals([tt.draws for tt in tts]) if tts else np.tile(thr, (ctx.settings.replicates, 1))
    q, place = ctx.settings.quantiles, indexed["place"].to_numpy(dtype=float)
    part = Part(notes=_fixed_notes(tts, thr.any()))
    part.intervals.extend(interval_frame(view.name, tt, q) for tt in tts)
    usable = eligible & np.array([not all(tt.fixed[i] for tt in tts) for i in range(len(teams))])
    n = sum(tt.n_items for tt in tts)
    part.intervals.append(total_frame(view.name, teams, "total", indexed["total"], draws, usable, n, q))
    ranked = round_decimals(draws, rp.tie_decimals)
    part.stability.append(view_stability(view.name, teams, place, draws, ranked, tts, ctx, view))
    part.tests.extend(adjacent_tests(view.name, _placed_order(teams, place), tts))
    return part


def _fixed_notes(tts: list[TeamTask], throughput: bool) -> tuple[str, ...]:
    notes = []
    if throughput:
        notes.append(
            "throughput points and the memory gate are held fixed: probe repetitions are not recorded per item"
        )
    no_items = [tt.task for tt in tts if tt.fixed.all()]
    if no_items:
        notes.append(f"no recorded items (values held fixed, no interval available): {', '.join(no_items)}")
    return tuple(notes)


def delta_view(view: ViewResult, ctx: Context) -> Part:
    """delta: per use case S_u = submission - base with base and submission resampled together; grand; places."""
    d, board, q = ctx.rules.delta, view.table, ctx.settings.quantiles
    teams = sorted(board["team"])
    indexed = board.set_index("team").reindex(teams)
    rows = headline(ctx.scores, list(d.use_cases.values()), {t: d.metric for t in d.use_cases.values()})
    tts = []
    for use_case, task in d.use_cases.items():
        mine = rows[rows["task"] == task]
        td = ctx.draw(task, str(mine["metric"].iloc[0])) if len(mine) else None
        w, usable = _delta_weights(mine, td, teams)
        official = indexed[use_case].to_numpy(dtype=float)
        tts.append(team_task(view.name, use_case, td, w, usable, teams, official, ctx.settings.replicates))
    grand = np.sum([tt.draws for tt in tts], axis=0)
    _check(view.name, "grand", np.sum([tt.point for tt in tts], axis=0), indexed["grand"].to_numpy())
    place = indexed["place"].to_numpy(dtype=float)
    usable = ~np.logical_and.reduce([tt.fixed for tt in tts])
    part = Part(notes=_fixed_notes(tts, False))
    part.intervals.extend(interval_frame(view.name, tt, q) for tt in tts)
    n = sum(tt.n_items for tt in tts)
    part.intervals.append(total_frame(view.name, teams, "grand", indexed["grand"], grand, usable, n, q))
    part.stability.append(view_stability(view.name, teams, place, grand, round_significant(grand), tts, ctx, view))
    part.tests.extend(adjacent_tests(view.name, _placed_order(teams, place), tts))
    return part


def _delta_weights(mine: pd.DataFrame, td: TaskDraws | None, teams: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """W with +1 on a team's submission and -1 on the base model (one column per team)."""
    models = td.matrix.models if td else ()
    w, usable = np.zeros((len(models), len(teams))), np.zeros(len(teams), dtype=bool)
    base = mine.loc[mine["role"] == "base", "model"]
    if td is None or len(base) != 1 or td.column(str(base.iloc[0])) is None:
        return w, usable
    b = td.column(str(base.iloc[0]))
    subs = mine[(mine["role"] == "submission") & mine["value"].notna()].set_index("team")["model"]
    for t, team in enumerate(teams):
        col = td.column(str(subs[team])) if team in subs.index else None
        if col is not None:
            w[col, t], w[b, t], usable[t] = 1.0, -1.0, True
    return w, usable


def helm_view(view: ViewResult, ctx: Context) -> Part:
    """geometric-mean and helm-mean-win-rate: run tasks resampled, imported HELM metrics held fixed."""
    g, q = ctx.rules.geometric, ctx.settings.quantiles
    subs = ctx.scores[ctx.scores["role"] == "submission"]
    values, _ = _helm_values(subs, ctx.rules, sorted(set(subs["team"])))
    teams = list(values.index)
    reps = ctx.settings.replicates
    columns = {name: np.tile(values[name].to_numpy(dtype=float), (reps, 1)) for name in values.columns}
    tts = []
    for scen in g.scenarios:
        name = scen.metrics[0].name
        if not scen.run_task or name not in values.columns:
            continue
        run_ids, _ = resolve_tasks([scen.run_task], subs["task"])
        run = subs[subs["task"].isin(run_ids) & (subs["metric"] == scen.run_metric)]
        td = ctx.draw(str(run["task"].iloc[0]), scen.run_metric) if len(run) else None
        w, usable = averaged_weights(run, td.matrix.models if td else (), teams, TrackRules(name=""))
        official = values[name].to_numpy(dtype=float)
        tt = team_task(view.name, name, td, w * scen.run_scale, usable, teams, official, reps, item_weights=w)
        columns[name] = tt.draws
        tts.append(tt)
    total = _geometric_total if view.name == "geometric-mean" else _helm_total
    score = "Score_full" if view.name == "geometric-mean" else "HELM MWR"
    indexed = view.table.set_index("team").reindex(teams)
    point = {k: v[:1] for k, v in columns.items()}
    _check(view.name, score, total(point, g, len(teams))[0], indexed[score].to_numpy())
    draws = total(columns, g, len(teams))
    place = indexed["place"].to_numpy(dtype=float)
    usable = ~np.logical_and.reduce([tt.fixed for tt in tts]) if tts else np.zeros(len(teams), dtype=bool)
    notes = ("imported HELM metrics have no items: held fixed (no interval available for them)",)
    if not usable.any():
        notes = (f"{view.name}: every metric comes from an imported HELM table (no items): no interval available",)
    part = Part(notes=notes)
    part.intervals.extend(interval_frame(view.name, tt, q) for tt in tts)
    n = sum(tt.n_items for tt in tts)
    part.intervals.append(total_frame(view.name, teams, score, indexed[score], draws, usable, n, q))
    part.stability.append(view_stability(view.name, teams, place, draws, round_significant(draws), tts, ctx, view))
    part.tests.extend(adjacent_tests(view.name, _placed_order(teams, place), tts))
    return part


def _scenario_win_rates(columns: dict, g, n: int, helm: bool) -> dict[str, list[np.ndarray]]:
    out: dict[str, list[np.ndarray]] = {}
    for scen in g.scenarios:
        for metric in scen.metrics:
            if metric.name not in columns:
                continue
            col = columns[metric.name]
            if helm:
                wr = _helm_win_rate(-col if metric.lower_is_better else col)
            else:
                if np.isnan(col).all():
                    continue
                fill = g.missing_value_lower_is_better if metric.lower_is_better else g.missing_value
                filled = np.where(np.isnan(col), fill, col)
                best, worst = min_max_places(-filled if metric.lower_is_better else filled)
                ties = worst - best + 1
                wr = (n - worst + np.where(ties > 1, 1.0 / ties, 0.0)) / n
            out.setdefault(scen.name, []).append(wr)
    return out


def _helm_win_rate(col: np.ndarray) -> np.ndarray:
    best, worst = min_max_places(col)
    present = (~np.isnan(col)).sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        wr = ((present - worst) + (worst - best) / 2) / (present - 1)
    return np.where(present >= 2, wr, np.nan)


def _geometric_total(columns: dict, g, n: int) -> np.ndarray:
    """Score_full of every replicate (geometric.geometric_mean_view, vectorised)."""
    mwr = {name: np.mean(wrs, axis=0) for name, wrs in _scenario_win_rates(columns, g, n, helm=False).items()}
    full = 0.0
    for set_name, weight in g.weights.items():
        names = [s.name for s in g.scenarios if s.set == set_name and s.name in mwr]
        if names:
            logs = [np.log(np.where(mwr[s] > 0, mwr[s], sys.float_info.min)) for s in names]
            full = full + weight * np.exp(np.sum(logs, axis=0) / len(names))
    return np.broadcast_to(full, next(iter(columns.values())).shape).astype(float) if columns else np.zeros((1, n))


def _helm_total(columns: dict, g, n: int) -> np.ndarray:
    """HELM MWR of every replicate (helm_win_rate.helm_mean_win_rate, vectorised)."""
    wrs = [w for ws in _scenario_win_rates(columns, g, n, helm=True).values() for w in ws]
    if not wrs:
        return np.full((1, n), np.nan)
    with np.errstate(invalid="ignore"):
        stack = np.stack(wrs)
        count = (~np.isnan(stack)).sum(axis=0)
        return np.where(count > 0, np.nansum(stack, axis=0) / np.maximum(count, 1), np.nan)


HANDLERS: dict[str, Callable[[ViewResult, Context], Part]] = {
    "averaged-three-model": averaged_view,
    "rank-points": rank_points_view,
    "delta": delta_view,
    "geometric-mean": helm_view,
    "helm-mean-win-rate": helm_view,
}
STABILITY = STABILITY_COLUMNS
TESTS = TEST_COLUMNS
