"""The rank-points view: a hand-built final, the memory gate, and properties (hypothesis)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalfleet.scoring.rank_points import rank_points
from evalfleet.scoring.rules import RankPointsRules

RULES = RankPointsRules()
TASKS = ["csqa", "gsm8k"]


def frames(table: dict[str, tuple], holdout: bool = False):
    """table: team -> (csqa, gsm8k, throughput, memory_mb)."""
    scores = pd.DataFrame(
        [dict(team=t, task=task, value=v[i]) for t, v in table.items() for i, task in enumerate(TASKS)]
    )
    eff = pd.DataFrame([dict(team=t, throughput=v[2], memory_mb=v[3]) for t, v in table.items()])
    return scores, eff


def test_hand_built_final():
    scores, eff = frames(
        {
            "a": (80, 50, 10.0, 9000),
            "b": (70, 60, 30.0, 11000),
            "c": (70, 40, 20.0, 12288),  # exactly at the limit: allowed
            "d": (90, 90, 90.0, 12289),  # over: disqualified
            "e": (None, 45, 5.0, None),  # no csqa score, memory not measured (flagged)
        }
    )
    board, detail = rank_points(scores, eff, RULES, tasks=TASKS)
    b = board.set_index("team")
    # csqa: a 10, b and c share 2nd -> 8.5 each; e no place. gsm8k: b 10, a 9, e 8, c 7.
    # throughput: b 20, c 18, a 16, e 14.
    assert b.loc["a", "total"] == 10 + 9 + 16
    assert b.loc["b", "total"] == 8.5 + 10 + 20
    assert b.loc["c", "total"] == 8.5 + 7 + 18
    assert b.loc["e", "total"] == 0 + 8 + 14
    assert b.loc["d", "status"] == "disqualified" and b.loc["d", "total"] == 0 and pd.isna(b.loc["d", "place"])
    assert "12,289 MB > limit 12,288" in b.loc["d", "note"]
    assert "no csqa score" in b.loc["e", "note"] and "memory not measured" in b.loc["e", "note"]
    assert list(board["team"]) == ["b", "a", "c", "e", "d"]
    assert board["place"].tolist()[:4] == [1, 2, 3, 4]
    d = detail.set_index(["team", "task"])
    assert pd.isna(d.loc[("d", "csqa"), "place"]) and d.loc[("d", "csqa"), "points"] == 0


def test_strict_memory_policy_and_shared_best():
    scores, eff = frames({"a": (80, 50, 10.0, None), "b": (80, 60, 30.0, 100)})
    strict = RankPointsRules(missing_memory="disqualify", ties="shared-best")
    board, _ = rank_points(scores, eff, strict, tasks=TASKS)
    b = board.set_index("team")
    assert b.loc["a", "status"] == "disqualified"
    assert b.loc["b", "total"] == 10 + 10 + 20
    board, _ = rank_points(scores, eff.assign(memory_mb=1.0), strict, tasks=TASKS)
    assert board.set_index("team").loc[["a", "b"], "csqa pts"].tolist() == [10, 10]  # both get the best place's points


# ---------------------------------------------------------------- properties

value = st.one_of(st.none(), st.integers(0, 4))  # a small range makes ties frequent
team_row = st.tuples(value, value, st.integers(1, 5), st.sampled_from([1000.0, 12000.0, 13000.0, None]))
finals = st.lists(team_row, min_size=1, max_size=13)


def run(rows, names, rules=RULES):
    table = {n: tuple(None if v is None else float(v) for v in r[:3]) + (r[3],) for n, r in zip(names, rows)}
    scores, eff = frames(table)
    return rank_points(scores, eff, rules, tasks=TASKS)


@settings(max_examples=20, deadline=None)
@given(finals, st.randoms(use_true_random=False))
def test_permuting_submissions_permutes_results(rows, rnd):
    names = [f"team{i:02d}" for i in range(len(rows))]
    board, _ = run(rows, names)
    order = list(range(len(rows)))
    rnd.shuffle(order)
    renamed = [f"x{rnd.randrange(10**6)}-{i}" for i in range(len(rows))]  # new names, new alphabetical order
    board2, _ = run([rows[i] for i in order], [renamed[i] for i in order])
    back = dict(zip(renamed, names))
    b1 = board.set_index("team")
    b2 = board2.assign(team=board2["team"].map(back)).set_index("team").loc[b1.index]
    pd.testing.assert_frame_equal(b1.drop(columns="note"), b2.drop(columns="note"))


@settings(max_examples=20, deadline=None)
@given(finals)
def test_ties_share_points_and_keep_the_total(rows):
    board, detail = run(rows, [f"t{i}" for i in range(len(rows))])
    for task, table in [
        ("csqa", RULES.task_points),
        ("gsm8k", RULES.task_points),
        ("throughput", RULES.throughput_points),
    ]:
        d = detail[(detail["task"] == task) & detail["place"].notna()]
        assert d["points"].sum() == pytest.approx(sum(table[: len(d)]))
        for _, group in d.groupby("value"):
            assert group["points"].nunique() == 1 and group["place"].nunique() == 1


@settings(max_examples=20, deadline=None)
@given(finals, team_row)
def test_disqualified_team_gets_nothing_and_takes_no_place(rows, extra):
    names = [f"t{i}" for i in range(len(rows))]
    without, _ = run(rows, names)
    dq = (extra[0], extra[1], extra[2], 20000.0)
    with_dq, detail = run(rows + [dq], names + ["zz-dq"])
    w = with_dq.set_index("team")
    assert (
        w.loc["zz-dq", "status"] == "disqualified" and w.loc["zz-dq", "total"] == 0 and pd.isna(w.loc["zz-dq", "place"])
    )
    assert detail[detail["team"] == "zz-dq"]["place"].isna().all()
    pd.testing.assert_frame_equal(w.drop(index="zz-dq").loc[without["team"]].reset_index()[without.columns], without)


@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 5), st.just(1000.0)), min_size=1, max_size=12
    )
)
def test_adding_a_dominated_team_keeps_the_others_order(rows):
    names = [f"t{i}" for i in range(len(rows))]
    before, _ = run(rows, names)
    after, _ = run(rows + [(0, 0, 0, 1000.0)], names + ["dominated"])
    assert [t for t in after["team"] if t != "dominated"] == list(before["team"])
    a = after.set_index("team")
    assert a.loc["dominated", "place"] == len(rows) + 1 or a.loc["dominated", "total"] == 0
    pd.testing.assert_series_equal(
        a.loc[before["team"], "place"].reset_index(drop=True), before["place"], check_names=False
    )
