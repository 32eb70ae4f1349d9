"""demo: the sample items load through the real task specs and modules; the demo config is valid."""
from __future__ import annotations

import re

from evalfleet.config import load_config
from evalfleet.demo import CSQA, GSM8K, write_config, write_data
from evalfleet.plan import task_items
from evalfleet.taskspec import load_task


def test_sample_items_load_with_the_official_modules(tmp_path):
    data = write_data(tmp_path / "data")
    gsm = task_items(load_task("gsm8k"), data)
    assert [i.reference for i in gsm] == [n for _, _, n in GSM8K] == ["42", "45", "8", "32", "140", "150", "18", "200"]
    assert "A baker puts 6 rolls" in gsm[0].messages[-1].content
    csqa = task_items(load_task("commonsenseqa"), data)
    assert [i.reference for i in csqa] == [k for _, _, k in CSQA]
    assert "B. refrigerator" in csqa[0].messages[-2].content + csqa[0].messages[-1].content


def test_sample_answers_are_right():
    # independent check of the authored arithmetic: every "a op b = c" holds and the last c is the answer
    for _, steps, number in GSM8K:
        equations = re.findall(r"([\d.]+) ([-+*/]) ([\d.]+) = ([\d.]+)", steps.replace(",", ""))
        assert equations, steps
        for a, op, b, c in equations:
            assert eval(f"{a} {op} {b}") == float(c), steps
        assert float(equations[-1][3]) == float(number)


def test_demo_config_is_valid(tmp_path):
    models = {("aurora", "llama"): tmp_path / "m"}
    cfg = load_config(write_config(tmp_path / "demo.yaml", models, tmp_path / "data", tmp_path / "results", workers=2))
    assert cfg.edition == "edge-llm-2024" and cfg.tasks == ("gsm8k", "commonsenseqa") and cfg.workers == 2
    assert cfg.submissions[0].id == "aurora--llama" and not cfg.problems
