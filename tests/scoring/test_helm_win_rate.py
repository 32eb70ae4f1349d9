"""HELM's leaderboard mean win rate: hand-computed values, and how it differs from the official 2023 score."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalfleet.scoring.geometric import geometric_mean_view
from evalfleet.scoring.helm_win_rate import helm_mean_win_rate, helm_metric_win_rates
from evalfleet.scoring.rules import GeometricRules, Metric, Scenario

RULES = GeometricRules(
    scenarios=(
        Scenario("A", "open", (Metric("A - EM"),)),
        Scenario("B", "open", (Metric("B - EM"), Metric("B - bias", True))),
    ),
    weights={"open": 1.0},
)


def test_helm_metric_win_rates_by_hand():
    col = pd.Series([0.9, 0.5, 0.5, None], index=list("wxyz"))
    wr = helm_metric_win_rates(col)
    # 3 values: w beats 2 -> 2/2; x beats none, ties y -> 0.5/2; z missing -> skipped (NaN)
    assert wr["w"] == 1.0 and wr["x"] == 0.25 and wr["y"] == 0.25 and pd.isna(wr["z"])
    assert helm_metric_win_rates(col, lower_is_better=True)["w"] == 0.0


def test_mean_over_metrics_the_submission_has():
    values = pd.DataFrame(
        {"A - EM": [0.9, 0.1, 0.5], "B - EM": [0.2, 0.8, None], "B - bias": [0.1, 0.3, 0.2]}, index=["a", "b", "c"]
    )
    board, _ = helm_mean_win_rate(values, RULES)
    mwr = board.set_index("team")["HELM MWR"]
    assert mwr["a"] == pytest.approx((1.0 + 0.0 + 1.0) / 3)
    assert mwr["b"] == pytest.approx((0.0 + 1.0 + 0.0) / 3)
    assert mwr["c"] == pytest.approx((0.5 + 0.5) / 2)  # no B - EM: averaged over its two metrics


scores = st.lists(st.tuples(st.integers(1, 9), st.integers(1, 9)), min_size=2, max_size=7)


@settings(max_examples=30, deadline=None)
@given(scores)
def test_dominated_submission_keeps_helm_order(rows):
    """HELM's mean win rate is an arithmetic mean of w/(N-1): a team below everyone shifts all alike."""
    values = pd.DataFrame(
        {"A - EM": [r[0] for r in rows], "B - EM": [r[1] for r in rows], "B - bias": [5] * len(rows)},
        index=[f"t{i}" for i in range(len(rows))],
    )
    before = helm_mean_win_rate(values, RULES)[0].set_index("team")["HELM MWR"]
    worse = pd.DataFrame({"A - EM": [0], "B - EM": [0], "B - bias": [9]}, index=["dominated"])
    after = helm_mean_win_rate(pd.concat([values, worse]), RULES)[0].set_index("team")["HELM MWR"]
    for a in before.index:
        for b in before.index:
            if before[a] > before[b] + 1e-12:
                assert after[a] > after[b]


def test_official_geometric_order_can_change_with_a_dominated_submission():
    """Not a bug: the official formula divides by N and takes a geometric mean, so adding a team that
    loses everywhere lifts near-zero win rates most and can reorder the others (documented in docs/scoring.md)."""
    rules = GeometricRules(
        scenarios=(Scenario("A", "open", (Metric("A"),)), Scenario("B", "open", (Metric("B"),))), weights={"open": 1.0}
    )
    values = pd.DataFrame({"A": [1, 2, 3, 4, 5, 6], "B": [6, 2, 1, 3, 4, 5]}, index=["a", "b", "c", "d", "e", "f"])
    before = geometric_mean_view(values, rules)[0].set_index("team")["Score_full"]
    dominated = pd.DataFrame({"A": [0], "B": [0]}, index=["z"])
    after = geometric_mean_view(pd.concat([values, dominated]), rules)[0].set_index("team")["Score_full"]
    # a: wins (0, 5) of 6 -> a zero win rate -> ~1e-154; b: (1, 1) -> 1/6
    assert before["a"] < 1e-100 and before["b"] == pytest.approx(1 / 6)
    # with z: a (1, 6)/7 -> sqrt(6)/7 = 0.35; b (2, 2)/7 = 0.286: a now ahead of b
    assert after["a"] == pytest.approx(6**0.5 / 7) and after["b"] == pytest.approx(2 / 7)
    assert after["a"] > after["b"]
