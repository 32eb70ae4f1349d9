"""The ELMB delta view: submission minus base per use case, grand sum, category leaders."""

from __future__ import annotations

import pandas as pd
import pytest

from evalfleet.errors import EvalfleetError
from evalfleet.scoring.delta import delta
from evalfleet.scoring.rules import DeltaRules

RULES = DeltaRules(use_cases={"roleplay": "elmb_roleplay", "rag": "elmb_chatrag"})


def frame(entries):
    return pd.DataFrame(
        [dict(team=t, model=f"{t}--m", role=role, task=task, metric=m, value=v) for t, role, task, m, v in entries]
    )


BASE = [
    ("org", "base", "elmb_roleplay", "acc", 0.40),
    ("org", "base", "elmb_chatrag", "acc", 0.50),
    ("org", "base", "elmb_roleplay", "acc_norm", 0.30),
    ("org", "base", "elmb_chatrag", "acc_norm", 0.60),
]


def test_delta_grand_and_leaders():
    f = frame(
        BASE
        + [
            ("x", "submission", "elmb_roleplay", "acc", 0.45),
            ("x", "submission", "elmb_chatrag", "acc", 0.49),
            ("y", "submission", "elmb_roleplay", "acc", 0.42),
            ("y", "submission", "elmb_chatrag", "acc", 0.55),
            ("x", "submission", "elmb_roleplay", "acc_norm", 0.50),
            ("x", "submission", "elmb_chatrag", "acc_norm", 0.60),
            ("y", "submission", "elmb_roleplay", "acc_norm", 0.30),
            ("y", "submission", "elmb_chatrag", "acc_norm", 0.61),
        ]
    )
    board, leaders = delta(f, RULES)
    b = board.set_index("team")
    assert b.loc["x", "roleplay"] == pytest.approx(0.05) and b.loc["x", "rag"] == pytest.approx(-0.01)
    assert b.loc["y", "grand"] == pytest.approx(0.02 + 0.05)
    assert list(board["team"]) == ["y", "x"]
    assert leaders.set_index("use_case").loc["roleplay", "leader"] == "x"
    assert leaders.set_index("use_case").loc["rag", "leader"] == "y"
    # acc_norm chosen in the rule file changes the winner
    board_n, _ = delta(f, DeltaRules(use_cases=RULES.use_cases, metric="acc_norm"))
    assert list(board_n["team"]) == ["x", "y"]


def test_missing_use_case_and_base_errors():
    f = frame(BASE + [("x", "submission", "elmb_roleplay", "acc", 0.45)])
    board, _ = delta(f, RULES)
    assert pd.isna(board.loc[0, "grand"]) and "no rag score" in board.loc[0, "note"]
    with pytest.raises(EvalfleetError, match="exactly one model with role 'base'"):
        delta(frame([("x", "submission", "elmb_roleplay", "acc", 0.4)]), RULES)
