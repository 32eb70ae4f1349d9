"""Scoring: per-task scores -> each edition's official views. Pure functions over pandas; no Ray, no torch.

Views (one module each): averaged_three_model (averaged.py), rank_points (rank_points.py),
geometric_mean_view with the 2023 official `calc_win_rate` (geometric.py), helm_mean_win_rate
(helm_win_rate.py, HELM's own formula, kept apart), delta (delta.py). Table importers: tables.py.
`compute_scoreboard(scores, rules)` computes every view a rule file lists (scoreboard.py); reading a results
root and writing reports is the pipeline's job (evalfleet/pipeline.py), not scoring's.
"""

from __future__ import annotations

from evalfleet.scoring.averaged import averaged_three_model
from evalfleet.scoring.delta import delta
from evalfleet.scoring.geometric import calc_win_rate, geometric_mean, geometric_mean_view
from evalfleet.scoring.helm_win_rate import helm_mean_win_rate
from evalfleet.scoring.rank_points import rank_points
from evalfleet.scoring.scoreboard import compute_scoreboard

__all__ = [
    "averaged_three_model",
    "calc_win_rate",
    "compute_scoreboard",
    "delta",
    "geometric_mean",
    "geometric_mean_view",
    "helm_mean_win_rate",
    "rank_points",
]
