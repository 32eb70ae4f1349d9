"""demo: the sample items load through the real task specs and modules; the demo config is valid."""

from __future__ import annotations

import re

import pytest

from evalfleet.demo import CHID, CSQA, GSM8K, TASKS, TEAMS, write_config, write_data
from evalfleet.plan.shards import task_items
from evalfleet.spec.config import load_config
from evalfleet.spec.taskspec import load_task


def test_sample_items_load_with_the_official_modules(tmp_path):
    data = write_data(tmp_path / "data")
    gsm = task_items(load_task("gsm8k"), data)
    assert [i.reference for i in gsm] == [n for _, _, n in GSM8K] == ["42", "45", "8", "32", "140", "150", "18", "200"]
    assert "A baker puts 6 rolls" in gsm[0].messages[-1].content
    csqa = task_items(load_task("commonsenseqa"), data)
    assert [i.reference for i in csqa] == [k for _, _, k in CSQA]
    assert "B. refrigerator" in csqa[0].messages[-2].content + csqa[0].messages[-1].content
    chid = task_items(load_task("chid:ppl"), data)
    assert [i.reference for i in chid] == [str(a) for split in ("chid-dev", "chid-test") for _, _, a in CHID[split]]
    assert chid[2].choices[2] == "以下句子是否通顺？\n只等好运自己上门，无异于守株待兔。\n这个句子是通顺的。"


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
    assert cfg.edition == "edge-llm-2024" and cfg.tasks == TASKS and cfg.workers == 2
    assert cfg.submissions[0].id == "aurora--llama" and not cfg.problems


@pytest.mark.slow
def test_demo_run_writes_a_leaderboard_that_the_answer_key_reproduces(tmp_path):
    """The real `evalfleet demo` in a subprocess; CHID choices recomputed as OpenCompass's get_ppl with plain
    transformers, accuracies against the answer key in the written FewCLUE files, team means vs the report."""
    import csv
    import json
    import subprocess
    import sys

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evalfleet.store.results import ResultStore

    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "evalfleet", "demo", "--out", str(out), "--workers", "2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Writing model shards" not in proc.stdout + proc.stderr
    assert (out / "report" / "leaderboard.md").is_file() and (out / "report" / "report.html").is_file()
    key = [
        json.loads(line)
        for line in (out / "data" / "chid" / "test_public.json").read_text(encoding="utf-8").splitlines()
    ]
    records = ResultStore(str(out / "results")).read_records()
    chid = records[(records["task"] == "chid:ppl") & (records["subset"] == "chid-test")].sort_values("item_id")
    assert len(chid) == len(TEAMS) * 3 * len(key)
    team_acc = {}
    for model_id, rows in chid.groupby("model"):
        team, family = model_id.split("--")
        path = out / "models" / f"{team}-{family}"
        tok, lm = AutoTokenizer.from_pretrained(path), AutoModelForCausalLM.from_pretrained(path).eval()
        correct = 0
        for row, entry in zip(rows.itertuples(), key):
            ppls = []
            for cand in entry["candidates"]:
                text = "以下句子是否通顺？\n" + entry["content"].replace("#idiom#", cand) + "\n这个句子是通顺的。"
                ids = torch.tensor([tok(text)["input_ids"]])
                with torch.no_grad():
                    logits = lm(ids).logits[0]
                loss = torch.nn.functional.cross_entropy(logits[:-1].float(), ids[0, 1:], reduction="none")
                ppls.append(loss.sum().item() / ids.shape[1])  # OpenCompass get_ppl (no padding here)
            assert row.extracted == str(ppls.index(min(ppls))), (model_id, row.item_id)
            correct += int(ppls.index(min(ppls)) == entry["answer"])
        team_acc.setdefault(team, []).append(100.0 * correct / len(key))
    with open(out / "report" / "averaged-three-model.csv", newline="") as f:
        reported = {r["team"]: float(r["chid:ppl"]) for r in csv.DictReader(f)}
    assert reported == pytest.approx({t: sum(v) / 3 for t, v in team_acc.items()})
    assert len(set(reported.values())) > 1  # the log-likelihood task tells the random-weight teams apart
