"""View 'rank-points' (edge-llm-2024): per task places -> points, throughput doubled, memory gate, total.

For every open and holdout task, teams are ranked by team score (highest first) and places 1..10
get 10..1 points; throughput is ranked the same way for 20..2 points. A team whose peak inference
memory exceeds the limit is disqualified before anything is ranked: it gets no points anywhere and
takes no place, so the others rank as if it had not entered. A team with no score for a task takes
no place there and gets 0 points for it (flagged). When no team has a throughput figure (no probe
was run), throughput is left out (the orchestration says so in the report's notes).
"""

from __future__ import annotations

import pandas as pd

from evalfleet.scoring.ranking import places, points_for_places
from evalfleet.scoring.rules import RankPointsRules

THROUGHPUT = "throughput"


def rank_points(
    team_scores: pd.DataFrame,
    efficiency: pd.DataFrame,
    rules: RankPointsRules,
    *,
    tasks: list[str],
    holdout: list[str] = (),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Points leaderboard.

    team_scores: team, task, value (one team score per task, e.g. from averaged_three_model).
    efficiency: team, throughput, memory_mb (NaN = not measured).
    Returns (leaderboard, detail). leaderboard: place, team, status, total, points per task ('<task> pts',
    throughput last), note — sorted by total; disqualified teams last with no place. detail: team, task,
    kind ('open'/'holdout'/'throughput'), value, place, points.
    """
    teams = sorted(set(team_scores["team"]) | set(efficiency["team"]))
    eff = efficiency.set_index("team").reindex(teams)
    status, notes = _gate(eff, rules)
    eligible = [t for t in teams if status[t] == "ok"]

    detail = []
    kinds = [(t, "open") for t in tasks] + [(t, "holdout") for t in holdout]
    for task, kind in kinds:
        values = team_scores[team_scores["task"] == task].set_index("team")["value"].reindex(teams)
        detail.append(_rank(task, kind, values, eligible, rules.task_points, rules))
    measured = bool(eff["throughput"].notna().any())
    if measured:  # throughput measured for nobody (no probe run): no throughput column at all
        detail.append(_rank(THROUGHPUT, "throughput", eff["throughput"], eligible, rules.throughput_points, rules))
    detail = pd.concat(detail, ignore_index=True)

    for row in detail[detail["team"].isin(eligible) & detail["value"].isna()].itertuples():
        notes[row.team].append(f"no {row.task} score")
    board = detail.pivot(index="team", columns="task", values="points").reindex(
        index=teams, columns=[t for t, _ in kinds] + [THROUGHPUT] * measured
    )
    board.columns = [f"{c} pts" for c in board.columns]
    board["total"] = board.sum(axis=1)
    board = board.reset_index()
    board.insert(1, "status", [status[t] for t in board["team"]])
    board["note"] = ["; ".join(notes[t]) for t in board["team"]]
    total = board["total"].where(board["status"] == "ok")
    board.insert(0, "place", places(total, decimals=rules.tie_decimals))
    board = board[["place", "team", "status", "total"] + [c for c in board.columns if c.endswith(" pts")] + ["note"]]
    board = board.sort_values(
        ["place", "total", "team"], ascending=[True, False, True], na_position="last", kind="mergesort"
    )
    return board.reset_index(drop=True), detail


def _gate(eff: pd.DataFrame, rules: RankPointsRules) -> tuple[dict[str, str], dict[str, list[str]]]:
    status: dict[str, str] = {}
    notes: dict[str, list[str]] = {}
    for team, mem in eff["memory_mb"].items():
        notes[team] = []
        if pd.isna(mem):
            status[team] = "disqualified" if rules.missing_memory == "disqualify" else "ok"
            notes[team].append("memory not measured")
        elif mem > rules.memory_limit_mb:
            status[team] = "disqualified"
            notes[team].append(f"peak memory {mem:,.0f} MB > limit {rules.memory_limit_mb:,.0f} MB")
        else:
            status[team] = "ok"
    return status, notes


def _rank(
    task: str, kind: str, values: pd.Series, eligible: list[str], table: tuple[float, ...], rules: RankPointsRules
) -> pd.DataFrame:
    ranked = values.reindex(eligible)
    place = places(ranked, decimals=rules.tie_decimals)
    pts = points_for_places(place, table, ties=rules.ties)
    out = pd.DataFrame({"team": values.index, "task": task, "kind": kind, "value": values.to_numpy(dtype=float)})
    out["place"] = out["team"].map(place)
    out["points"] = out["team"].map(pts).fillna(0.0)
    return out
