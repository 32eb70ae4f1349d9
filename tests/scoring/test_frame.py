"""The task-score frame: required columns, headline metric per task, task variants."""

from __future__ import annotations

import pandas as pd
import pytest

from evalfleet.errors import EvalfleetError
from evalfleet.scoring.frame import check_frame, headline, resolve_tasks


def frame(rows):
    return pd.DataFrame(
        [
            dict(team=t, model=t, family="f", role="submission", task=task, metric=m, value=v, n=1)
            for t, task, m, v in rows
        ]
    )


def test_missing_columns_are_named():
    with pytest.raises(EvalfleetError) as err:
        check_frame(pd.DataFrame({"team": ["a"], "task": ["x"]}))
    assert err.value.field == "model"


def test_headline_metric_from_rule_file_then_task_spec():
    f = frame(
        [
            ("a", "bbh", "accuracy", 40.0),
            ("a", "bbh", "bbh-navigate", 50.0),
            ("a", "gsm8k", "accuracy", 30.0),
            ("b", "gsm8k", "score", 20.0),
        ]
    )
    rows = headline(f, ["bbh", "gsm8k"], {})
    assert sorted(zip(rows["team"], rows["task"], rows["metric"])) == [
        ("a", "bbh", "accuracy"),
        ("a", "gsm8k", "accuracy"),
        ("b", "gsm8k", "score"),
    ]
    with pytest.raises(EvalfleetError, match="no 'f1' values"):
        headline(f, ["bbh"], {"bbh": "f1"})
    with pytest.raises(EvalfleetError, match="name the headline one"):
        headline(frame([("a", "mystery", "m1", 1.0), ("a", "mystery", "m2", 2.0)]), ["mystery"], {})


def test_variants_resolve_unless_ambiguous():
    assert resolve_tasks(["commonsenseqa", "bbh", "chid"], ["commonsenseqa:gen_c946f2", "bbh"]) == (
        ["commonsenseqa:gen_c946f2", "bbh"],
        ["chid"],
    )
    with pytest.raises(EvalfleetError, match="several variants"):
        resolve_tasks(["chid"], ["chid:gen", "chid:ppl"])


def test_columns_are_the_task_score_fields_in_both_producers():
    from dataclasses import fields

    from evalfleet.scoring.frame import COLUMNS
    from evalfleet.scoring.task_scores import task_scores
    from evalfleet.types import TaskScore

    assert COLUMNS == ("team", "model", "family", "role", "task", "metric", "value", "n")
    assert COLUMNS == tuple(f.name for f in fields(TaskScore))
    assert tuple(task_scores(pd.DataFrame()).columns) == COLUMNS
