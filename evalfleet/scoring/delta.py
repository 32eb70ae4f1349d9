"""View 'delta' (elmb-2025): improved minus base per use case, the grand sum, the category leaders.

    S_u = S_improve[u] - S_base[u]   for each use case u (roleplay, robotics, function_calling, rag)
    grand = sum of S_u;  the award of category u goes to the largest S_u (tied leaders share it)

S_improve is the team's submission (role 'submission'), S_base the organizers' base model (role 'base').
"""

from __future__ import annotations

import pandas as pd

from evalfleet.errors import EvalfleetError
from evalfleet.scoring.ranking import places, round_significant
from evalfleet.scoring.rules import DeltaRules


def delta(rows: pd.DataFrame, rules: DeltaRules) -> tuple[pd.DataFrame, pd.DataFrame]:
    """rows: team, model, role, task, metric, value. Returns (leaderboard, leaders).

    leaderboard: place, team, one column per use case (S_u, NaN when missing), grand, note — sorted by grand.
    leaders: use_case, task, base, best delta, leader(s).
    """
    rows = rows[rows["metric"].isin([rules.metric, "score"])]
    base_rows = rows[rows["role"] == "base"]
    subs = rows[rows["role"] == "submission"]
    bases = sorted(set(base_rows["model"]))
    if len(bases) != 1:
        raise EvalfleetError(
            f"the delta view needs exactly one model with role 'base', found {bases or 'none'}",
            field="submissions.role",
        )
    base = base_rows.set_index("task")["value"]
    teams = sorted(set(subs["team"]))
    board = pd.DataFrame({"team": teams})
    notes: dict[str, list[str]] = {t: [] for t in teams}
    for use_case, task in rules.use_cases.items():
        if task not in base.index:
            raise EvalfleetError(
                f"the base model has no '{rules.metric}' score for task '{task}' (use case {use_case})",
                field=f"views.delta.use_cases.{use_case}",
            )
        mine = subs[subs["task"] == task]
        dup = mine["team"].duplicated()
        if dup.any():
            raise EvalfleetError(
                f"team '{mine[dup]['team'].iloc[0]}' has more than one submission scored on '{task}'",
                field="submissions",
            )
        values = mine.set_index("team")["value"].reindex(teams)
        for team in values[values.isna()].index:
            notes[team].append(f"no {use_case} score")
        board[use_case] = (values - float(base[task])).to_numpy()
    cases = list(rules.use_cases)
    board["grand"] = board[cases].sum(axis=1, min_count=len(cases))
    board["note"] = ["; ".join(notes[t]) for t in teams]
    board.insert(0, "place", places(round_significant(board["grand"]), decimals=None))
    board = board.sort_values(["place", "team"], kind="mergesort", na_position="last").reset_index(drop=True)
    leaders = []
    for use_case, task in rules.use_cases.items():
        best = board[use_case].max()
        who = board.loc[board[use_case] == best, "team"].tolist() if pd.notna(best) else []
        leaders.append(
            dict(use_case=use_case, task=task, base=float(base[task]), best_delta=best, leader=", ".join(who))
        )
    return board, pd.DataFrame(leaders)
