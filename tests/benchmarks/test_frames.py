"""The aggregate helpers give exactly what the slower pandas idioms they replace gave."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalfleet.benchmarks._frames import level_blocks, metrics_frame, ordered_sum


def test_metrics_frame_is_the_frame_of_the_list_of_dicts():
    dicts = [
        {"exact_match": 1.0, "f1": 0.5},
        {"f1": 0.25, "exact_match": 0.0},
        {"exact_match": 1.0},  # a key missing: NaN
        {"exact_match": None, "f1": 1.0, "isolation": "process"},  # None, and a text column
        {},
        {"exact_match": 0.0, "f1": 0.0, "flag": True},
    ]
    rows = pd.DataFrame({"metrics": dicts}, index=[5, 3, 9, 1, 0, 7])
    got = metrics_frame(rows)
    expected = pd.DataFrame(dicts, index=rows.index)
    pd.testing.assert_frame_equal(got, expected)
    assert list(got.columns) == ["exact_match", "f1", "isolation", "flag"]
    pd.testing.assert_series_equal(got.mean(numeric_only=True), expected.mean(numeric_only=True))
    empty = pd.DataFrame({"metrics": [{}, {}]})
    assert metrics_frame(empty).shape == pd.DataFrame([{}, {}]).shape


def test_ordered_sum_adds_left_to_right_like_python_not_pairwise_like_numpy():
    rng = np.random.default_rng(3)
    differs = 0
    for n in (1, 2, 7, 130, 1000, 5077):
        values = rng.random(n) * rng.choice([1e-8, 1.0, 1e8], n)
        python = 0
        for v in values:  # what `sum(series)` does with NumPy floats
            python = python + v
        assert ordered_sum(values) == float(python)
        differs += ordered_sum(values) != float(np.sum(values))
    assert differs > 0  # the test tells the two orders apart
    assert ordered_sum(np.array([])) == 0.0


def test_level_blocks_select_what_loc_selects():
    frame = pd.DataFrame(
        {"subset": ["b", "a", "c", "a", "b", "b"], "item_id": ["2", "9", "1", "3", "1", "0"], "v": range(6)}
    )
    per_item = frame.groupby(["subset", "item_id"], sort=True)["v"].mean()
    blocks = level_blocks(per_item.index)
    assert list(blocks) == ["a", "b", "c"]
    for label, where in blocks.items():
        assert list(per_item.to_numpy()[where]) == list(per_item.loc[label].to_numpy())
