"""Edition rule files: the three shipped ones load; bad ones name the file and field."""

from __future__ import annotations

import pytest

from evalfleet.errors import EvalfleetError
from evalfleet.spec.edition import available_editions, load_edition


def test_shipped_editions_load():
    assert {"edge-llm-2024", "llm-efficiency-2023", "elmb-2025"} <= set(available_editions())
    e = load_edition("edge-llm-2024")
    assert e.allowed_dtypes == ("float16", "float32")
    assert {"commonsenseqa", "bbh", "gsm8k", "humaneval", "chid", "truthfulqa"} <= set(e.tasks)
    assert set(e.holdout) == {"tydiqa", "math"}


def test_unknown_and_bad(tmp_path):
    with pytest.raises(EvalfleetError, match="unknown edition 'x'"):
        load_edition("x", tmp_path)
    (tmp_path / "bad.yaml").write_text("tasks: gsm8k\n")
    with pytest.raises(EvalfleetError) as err:
        load_edition("bad", tmp_path)
    assert err.value.field == "tasks"
