"""View 'geometric-mean': the NeurIPS 2023 LLM Efficiency Challenge's official scorer, exactly.

    calc_win_rate(values): win[i] = sum over j != i of 1 if values[i] beats values[j],
                           1 / (c * (c - 1)) if values[i] == values[j] (c = how often that value occurs);
                           returned as win[i] / N  (N submissions, *not* N - 1)
    missing metric value -> 0.0 (1000.0 where lower is better) before ranking
    mwr[s][scenario] = mean of calc_win_rate over the scenario's metrics
    Score_set[s]     = geometric mean over the set's scenarios (a value <= 0 becomes sys.float_info.min)
    Score_full       = 1/3 Score_open + 2/3 Score_hidden  (the set weights of the rule file)

It reproduces the published Score_open / Score_hidden / Score_full of all 17 finalists to 1e-15.
HELM's own leaderboard mean win rate is a different formula: see helm_win_rate.py.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from typing import Sequence

import pandas as pd

from evalfleet.scoring.ranking import places, round_significant
from evalfleet.scoring.rules import GeometricRules


def calc_win_rate(values: Sequence[float], lower_is_better: bool = False) -> list[float]:
    """The official per-metric win rate of each submission (see the module docstring)."""
    n = len(values)
    counts = Counter(values)
    out = []
    for i, v in enumerate(values):
        wins = 0.0
        for j, u in enumerate(values):
            if i == j:
                continue
            if v == u:
                wins += 1 / (counts[v] * (counts[v] - 1))
            elif (v < u) if lower_is_better else (v > u):
                wins += 1
        out.append(wins / n)
    return out


def geometric_mean(values: Sequence[float]) -> float:
    """exp(mean(log x)), with every x <= 0 replaced by the smallest positive float first."""
    logs = [math.log(v if v > 0 else sys.float_info.min) for v in values]
    return math.exp(sum(logs) / len(logs))


def metric_table(rows: pd.DataFrame, teams: list[str]) -> pd.DataFrame:
    """team x metric table of values from long rows (team, metric, value); absent entries are NaN."""
    if rows.empty:
        return pd.DataFrame(index=teams, dtype=float)
    dup = rows.duplicated(["team", "metric"], keep=False)
    if dup.any():
        r = rows[dup].iloc[0]
        raise ValueError(f"team '{r.team}' has two values for metric '{r.metric}'")
    return rows.pivot(index="team", columns="metric", values="value").reindex(teams).astype(float)


def geometric_mean_view(values: pd.DataFrame, rules: GeometricRules) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Official 2023 leaderboard from a team x metric table (NaN = HELM reported no value).

    Returns (leaderboard, win_rates, notes). leaderboard: place, team, Score_full, Score_<set> per set,
    '<scenario> MWR' per scenario — sorted by Score_full. win_rates: team, scenario, metric, value,
    filled (value after the missing-value rule), win_rate. A metric no submission has is left out of
    its scenario and a scenario with no metric at all out of its set (both named in `notes`).
    """
    teams = list(values.index)
    notes: list[str] = []
    mwr: dict[str, list[float]] = {}
    long = []
    for scen in rules.scenarios:
        per_metric = []
        absent = []
        for metric in scen.metrics:
            col = values[metric.name] if metric.name in values.columns else pd.Series(float("nan"), index=teams)
            if col.isna().all():
                absent.append(
                    f"{scen.set}/{scen.name}: metric '{metric.name}' has no value for any submission; left out"
                )
                continue
            fill = rules.missing_value_lower_is_better if metric.lower_is_better else rules.missing_value
            filled = [fill if pd.isna(v) else float(v) for v in col]
            wr = calc_win_rate(filled, metric.lower_is_better)
            per_metric.append(wr)
            long += [
                dict(
                    team=t,
                    scenario=scen.name,
                    metric=metric.name,
                    value=float(col.iloc[i]),
                    filled=filled[i],
                    win_rate=wr[i],
                )
                for i, t in enumerate(teams)
            ]
        if not per_metric:
            notes.append(
                f"{scen.set}/{scen.name}: no values at all (import a HELM table); scenario left out of Score_{scen.set}"
            )
            continue
        notes += absent
        mwr[scen.name] = [sum(w[i] for w in per_metric) / len(per_metric) for i in range(len(teams))]

    board = pd.DataFrame({"team": teams})
    full = [0.0] * len(teams)
    for set_name, weight in rules.weights.items():
        names = [s.name for s in rules.scenarios if s.set == set_name and s.name in mwr]
        if names:
            score = [geometric_mean([mwr[s][i] for s in names]) for i in range(len(teams))]
        else:
            notes.append(f"set '{set_name}' has no scenario with values; Score_{set_name} counts as 0")
            score = [0.0] * len(teams)
        board[f"Score_{set_name}"] = score
        full = [f + weight * s for f, s in zip(full, score)]
    board.insert(1, "Score_full", full)
    for name, col in mwr.items():
        board[f"{name} MWR"] = col
    board.insert(
        0, "place", places(round_significant(board["Score_full"]), decimals=None)
    )  # float noise of the sum order is no lead
    board = board.sort_values(["place", "team"], kind="mergesort").reset_index(drop=True)
    return board, pd.DataFrame(long, columns=["team", "scenario", "metric", "value", "filled", "win_rate"]), notes
