"""Places and points: shared places, both tie policies, by hand."""

from __future__ import annotations

import pandas as pd

from evalfleet.scoring.ranking import places, points_for_places

TEN = (10, 9, 8, 7, 6, 5, 4, 3, 2, 1)


def test_places_share_the_best_place():
    p = places(pd.Series([70.0, 80.0, 80.0, None, 60.0]))
    assert p.tolist()[:3] == [3.0, 1.0, 1.0] and pd.isna(p[3]) and p[4] == 4.0


def test_float_noise_does_not_break_a_tie():
    assert places(pd.Series([0.1 + 0.2, 0.3])).tolist() == [1.0, 1.0]
    assert places(pd.Series([0.1 + 0.2, 0.3]), decimals=None).tolist() == [1.0, 2.0]


def test_shared_mean_splits_the_spanned_points():
    # the 2024 compression track: second place shared by two teams -> (9 + 8) / 2 each
    p = pd.Series([1.0, 2.0, 2.0, 4.0])
    assert points_for_places(p, TEN).tolist() == [10, 8.5, 8.5, 7]
    assert points_for_places(p, TEN, ties="shared-best").tolist() == [10, 9, 9, 7]


def test_ties_beyond_the_points_table():
    # places 10 and 11 tied: (1 + 0) / 2; places past the table get nothing
    p = pd.Series([float(i) for i in range(1, 10)] + [10.0, 10.0, 12.0, None])
    pts = points_for_places(p, TEN)
    assert pts.tolist()[9:] == [0.5, 0.5, 0.0, 0.0]
    assert pts.sum() == sum(TEN)
    assert points_for_places(pd.Series([1.0]), (20, 18)).tolist() == [20]
