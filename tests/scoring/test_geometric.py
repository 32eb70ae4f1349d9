"""The 2023 official scorer against the organizers' published answer key, and calc_win_rate by hand."""

from __future__ import annotations

import math
import sys

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalfleet.scoring.geometric import calc_win_rate, geometric_mean, geometric_mean_view, metric_table
from evalfleet.scoring.rules import parse_rules
from evalfleet.scoring.tables import read_helm_published, read_helm_table
from evalfleet.spec.edition import load_edition

TRACKS = {"A100": 9, "4090": 8}


@pytest.fixture(scope="module")
def rules():
    return parse_rules(load_edition("llm-efficiency-2023")).geometric


@pytest.mark.parametrize("track", sorted(TRACKS))
def test_published_scores_recomputed(shared_data, rules, track):
    """Score_open, Score_hidden, Score_full and every scenario's mean win rate of all finalists, to 1e-9."""
    path = shared_data / "llm-efficiency-2023" / f"{track}_full_ranks_final_round.json"
    rows = read_helm_table(path)
    values = metric_table(rows[["team", "metric", "value"]], list(dict.fromkeys(rows["team"])))
    board, _, notes = geometric_mean_view(values, rules)
    assert notes == []
    published = read_helm_published(path).set_index("team")
    assert len(board) == len(published) == TRACKS[track]
    ours = board.set_index("team")
    for team, pub in published.iterrows():
        for col in ("Score_open", "Score_hidden", "Score_full"):
            assert ours.loc[team, col] == pytest.approx(pub[col], abs=1e-9, rel=0), (team, col)
        for scen in rules.scenarios:
            assert ours.loc[team, f"{scen.name} MWR"] == pytest.approx(pub[f"{scen.name} Mean Win Rate"], abs=1e-12)
    # the published order is the order of Score_full
    assert list(board["team"]) == list(published["Score_full"].sort_values(ascending=False).index)


def test_all_17_finalists(shared_data, rules):
    n = 0
    for track in TRACKS:
        path = shared_data / "llm-efficiency-2023" / f"{track}_full_ranks_final_round.json"
        rows = read_helm_table(path)
        values = metric_table(rows[["team", "metric", "value"]], list(dict.fromkeys(rows["team"])))
        board, _, _ = geometric_mean_view(values, rules)
        pub = read_helm_published(path).set_index("team")["Score_full"]
        n += sum(abs(board.set_index("team").loc[t, "Score_full"] - v) < 1e-9 for t, v in pub.items())
    assert n == 17


def test_calc_win_rate_by_hand():
    # 4 submissions, no ties: the best beats 3 others -> 3/4 (divided by N, not N-1)
    assert calc_win_rate([0.9, 0.5, 0.7, 0.1]) == [0.75, 0.25, 0.5, 0.0]
    # lower is better flips it
    assert calc_win_rate([0.9, 0.5, 0.7, 0.1], lower_is_better=True) == [0.0, 0.5, 0.25, 0.75]
    # a pair tied at 0.5 (count 2): each gets 1/(2*1) = 0.5 for the tie, plus 1 for beating 0.1
    assert calc_win_rate([0.5, 0.5, 0.1]) == pytest.approx([1.5 / 3, 1.5 / 3, 0.0])
    # three tied (count 3): each tie pair is worth 1/6, two of them -> 1/3, over N = 3
    assert calc_win_rate([0.2, 0.2, 0.2]) == pytest.approx([1 / 9] * 3)


def test_missing_values_and_zero_scenarios(rules):
    """A null becomes 0.0 (1000.0 where lower is better); a zero mean win rate becomes the smallest float."""
    assert geometric_mean([0.0, 0.25]) == pytest.approx(math.sqrt(sys.float_info.min * 0.25), rel=1e-12)
    assert geometric_mean([0.25, 0.25]) == pytest.approx(0.25)
    import pandas as pd

    values = pd.DataFrame(
        {"sam_sum - ROUGE-2": [0.1, None], "sam_sum - Stereotypes (race)": [None, 0.3]}, index=["a", "b"]
    )
    board, wr, notes = geometric_mean_view(values, rules)
    sam = wr[wr["scenario"] == "sam_sum"].set_index(["team", "metric"])["filled"]
    assert sam[("b", "sam_sum - ROUGE-2")] == 0.0
    assert sam[("a", "sam_sum - Stereotypes (race)")] == 1000.0
    # metrics nobody has are left out, and said so
    assert any("open/MMLU: no values at all" in n for n in notes)
    assert any("sam_sum - Stereotypes (gender)' has no value" in n for n in notes)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([None, 0.1, 0.5, 0.9]), st.sampled_from([None, 0.2, 0.4]), st.sampled_from([None, 0.0, 0.3])
        ),
        min_size=2,
        max_size=8,
    ),
    st.randoms(use_true_random=False),
)
def test_permuting_submissions_permutes_the_official_scores(rows, rnd):
    from evalfleet.scoring.rules import GeometricRules, Metric, Scenario

    rules = GeometricRules(
        scenarios=(
            Scenario("A", "open", (Metric("A"),)),
            Scenario("B", "open", (Metric("B"), Metric("C", True))),
            Scenario("D", "hidden", (Metric("A2"),)),
        ),
        weights={"open": 1 / 3, "hidden": 2 / 3},
    )
    names = [f"s{i}" for i in range(len(rows))]
    values = pd.DataFrame([dict(A=a, B=b, C=c, A2=b) for a, b, c in rows], index=names, dtype=float)
    order = list(range(len(rows)))
    rnd.shuffle(order)
    first = geometric_mean_view(values, rules)[0].set_index("team")
    second = geometric_mean_view(values.iloc[order], rules)[0].set_index("team").loc[first.index]
    pd.testing.assert_frame_equal(first, second)
