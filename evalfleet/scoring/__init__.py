"""Scoring: per-task scores -> each edition's official views. Pure functions over pandas; no Ray, no torch.

Views (one module each): averaged_three_model (averaged.py), rank_points (rank_points.py),
geometric_mean_view with the 2023 official `calc_win_rate` (geometric.py), helm_mean_win_rate
(helm_win_rate.py, HELM's own formula, kept apart), delta (delta.py). Table importers: tables.py.
Entry points: `score_results(results, out)` and `leaderboard(edition, tables, out)` (orchestrate.py).
"""
from __future__ import annotations

from evalfleet.scoring.averaged import averaged_three_model
from evalfleet.scoring.delta import delta
from evalfleet.scoring.geometric import calc_win_rate, geometric_mean, geometric_mean_view
from evalfleet.scoring.helm_win_rate import helm_mean_win_rate
from evalfleet.scoring.orchestrate import compute_scoreboard, leaderboard, score_results
from evalfleet.scoring.rank_points import rank_points

__all__ = [
    "averaged_three_model", "calc_win_rate", "compute_scoreboard", "delta", "geometric_mean", "geometric_mean_view",
    "helm_mean_win_rate", "leaderboard", "rank_points", "score_results",
]
