"""View 'helm-mean-win-rate': HELM's own leaderboard formula — not the 2023 official score.

As HELM's summarizer computes it (`compute_aggregate_row_win_rates`): for each metric, a submission's
win rate is (others it beats + half the others it ties) / (submissions with a value - 1); missing
values are skipped (not filled), a metric with fewer than two values is skipped; the mean win rate
is the mean over the metrics the submission has. Kept apart from the official geometric-mean view.
"""

from __future__ import annotations

import pandas as pd

from evalfleet.scoring.ranking import places, round_significant
from evalfleet.scoring.rules import GeometricRules


def helm_metric_win_rates(col: pd.Series, lower_is_better: bool = False) -> pd.Series:
    """HELM win rate of each entry of one metric column (NaN where the entry has no value)."""
    present = col.dropna().astype(float)
    out = pd.Series(float("nan"), index=col.index)
    if len(present) < 2:
        return out
    for idx, v in present.items():
        beats = ((present > v) if lower_is_better else (present < v)).sum()
        ties = (present == v).sum() - 1
        out[idx] = (beats + ties / 2) / (len(present) - 1)
    return out


def helm_mean_win_rate(values: pd.DataFrame, rules: GeometricRules) -> tuple[pd.DataFrame, pd.DataFrame]:
    """HELM mean win rate per submission and set, over the rule file's metrics.

    values: team x metric table. Returns (leaderboard, win_rates): leaderboard has place, team,
    'HELM MWR' (over every metric) and 'HELM MWR <set>' per set, sorted; win_rates is long
    (team, scenario, metric, win_rate).
    """
    long = []
    for scen in rules.scenarios:
        for metric in scen.metrics:
            if metric.name not in values.columns:
                continue
            wr = helm_metric_win_rates(values[metric.name], metric.lower_is_better)
            long += [
                dict(team=t, set=scen.set, scenario=scen.name, metric=metric.name, win_rate=w) for t, w in wr.items()
            ]
    wr = pd.DataFrame(long, columns=["team", "set", "scenario", "metric", "win_rate"])
    board = pd.DataFrame({"team": list(values.index)})
    board["HELM MWR"] = board["team"].map(wr.groupby("team")["win_rate"].mean())
    for set_name in rules.weights:
        board[f"HELM MWR {set_name}"] = board["team"].map(wr[wr["set"] == set_name].groupby("team")["win_rate"].mean())
    board.insert(0, "place", places(round_significant(board["HELM MWR"]), decimals=None))
    board = board.sort_values(["place", "team"], kind="mergesort", na_position="last").reset_index(drop=True)
    return board, wr.drop(columns="set")
