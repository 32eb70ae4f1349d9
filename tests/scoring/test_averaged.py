"""averaged-three-model: the mean over a team's three families, missing-family policies, scratch track."""

from __future__ import annotations

import pandas as pd
import pytest

from evalfleet.errors import EvalfleetError
from evalfleet.scoring.averaged import averaged_three_model
from evalfleet.scoring.rules import TrackRules

FAMILIES = {"phi-2": ("phi",), "llama-3-8b": ("llama",), "qwen2-7b": ("qwen",)}


def rows(entries):
    return pd.DataFrame([dict(team=t, model=f"{t}--{f}", family=f, task=task, value=v) for t, f, task, v in entries])


def test_mean_of_three_families_matched_by_name():
    r = rows([("a", "phi", "gsm8k", 30.0), ("a", "Llama-3.1-8B", "gsm8k", 60.0), ("a", "qwen2", "gsm8k", 90.0)])
    out = averaged_three_model(r, TrackRules("compression", FAMILIES))
    assert out.loc[0, "value"] == 60.0 and out.loc[0, "n_models"] == 3 and out.loc[0, "flag"] == ""


@pytest.mark.parametrize("policy,expected", [("zero", 30.0), ("mean-of-present", 45.0), ("exclude", None)])
def test_missing_family_policies_are_flagged(policy, expected):
    r = rows(
        [
            ("a", "phi", "gsm8k", 30.0),
            ("a", "llama", "gsm8k", 60.0),
            ("b", "phi", "gsm8k", 1.0),
            ("b", "llama", "gsm8k", 1.0),
            ("b", "qwen", "gsm8k", 1.0),
        ]
    )
    out = averaged_three_model(r, TrackRules("compression", FAMILIES, missing_family=policy)).set_index("team")
    if expected is None:
        assert pd.isna(out.loc["a", "value"])
    else:
        assert out.loc["a", "value"] == expected
    assert out.loc["a", "missing_families"] == "qwen2-7b" and f"({policy})" in out.loc["a", "flag"]
    assert out.loc["b", "flag"] == ""


def test_team_without_any_score_takes_no_place():
    r = rows([("a", "phi", "gsm8k", 30.0)])
    out = averaged_three_model(r, TrackRules("compression", FAMILIES), teams=["a", "b"]).set_index("team")
    assert pd.isna(out.loc["b", "value"]) and out.loc["b", "flag"] == "no gsm8k score"


def test_scratch_track_uses_the_single_model():
    out = averaged_three_model(rows([("s", "scratch", "bbh", 12.5)]), TrackRules("scratch"))
    assert out.loc[0, "value"] == 12.5
    with pytest.raises(EvalfleetError, match="takes one"):
        averaged_three_model(rows([("s", "x", "bbh", 1.0), ("s", "y", "bbh", 2.0)]), TrackRules("scratch"))


def test_bad_families_are_errors():
    with pytest.raises(EvalfleetError, match="none of the track"):
        averaged_three_model(rows([("a", "mistral", "gsm8k", 1.0)]), TrackRules("compression", FAMILIES))
    with pytest.raises(EvalfleetError, match="two 'phi-2' models"):
        averaged_three_model(
            rows([("a", "phi", "gsm8k", 1.0), ("a", "phi-2", "gsm8k", 2.0)]), TrackRules("compression", FAMILIES)
        )


def test_imported_team_score_is_used_as_is():
    r = pd.DataFrame([dict(team="a", model="a", family="", task="gsm8k", value=42.0)])
    out = averaged_three_model(r, TrackRules("compression", FAMILIES))
    assert out.loc[0, "value"] == 42.0 and out.loc[0, "flag"] == "team score as imported"
