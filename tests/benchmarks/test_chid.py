"""CHID (FewCLUE_chid_gen_0a29a2 and FewCLUE_chid_ppl_8f2872): counts, prompts, OpenCompass's pairs, PPL choice."""

from __future__ import annotations

import pandas as pd
import pytest

from evalfleet.benchmarks import get_module
from evalfleet.benchmarks.prompting import render
from evalfleet.spec.taskspec import load_task
from evalfleet.types import Loglik

SPEC = load_task("chid")
PPL = load_task("chid:ppl")
MOD = get_module(SPEC)

# (output, first_capital_postprocess as OpenCompass 0.5.4 returns it)
PAIRS = [("答案是C", "C"), ("c. 答案 B", "B"), ("无", ""), ("ａＢ", "Ｂ"), ("Ä", "Ä"), ("", ""), ("A或者B", "A")]


@pytest.mark.parametrize("output,extracted", PAIRS)
def test_first_capital(output, extracted):
    assert MOD.extract(output) == extracted


def test_gen_items(shared_data):
    items = MOD.load_items(SPEC, shared_data)
    assert len(items) == 202 + 2002
    assert [i.id for i in items] == sorted(i.id for i in items)
    assert items[0].id == "chid-dev/0000" and items[-1].id == "chid-test/2001"
    first = items[0]
    prompt = render(first.messages, "base")
    assert prompt.startswith("有时候我给你______,但你却愿我家破人亡?")
    assert "\n请选择______处所填的词\nA. 画蛇添足\nB. 脸红耳赤\nC. 雪中送炭\n" in prompt
    assert prompt.endswith("G. 小巧玲珑\n请从”A“，”B“，”C“，”D“，”E“，”F“，”G“中进行选择。答：")
    assert first.reference == "C"
    assert MOD.score(MOD.extract("C. 雪中送炭"), first, SPEC) == {"accuracy": 1.0}
    assert MOD.score(MOD.extract("雪中送炭"), first, SPEC) == {"accuracy": 0.0}


def test_ppl_items(shared_data):
    items = MOD.load_items(PPL, shared_data)
    assert len(items) == 2204 and PPL.kind == "loglikelihood"
    first = items[0]
    assert first.messages == () and len(first.choices) == 7 and first.reference == "2"
    assert first.choices[2].startswith("以下句子是否通顺？\n有时候我给你雪中送炭,但你却愿我家破人亡?")
    assert first.choices[2].endswith("\n这个句子是通顺的。")


def test_ppl_choice_is_opencompass_average_loss():
    # get_ppl divides the loss of the n tokens after BOS by n + 1 (BOS counted): a longer text with
    # a larger total loss can still win. Choice 0: 10 / 5 = 2.0, choice 1: 12 / 7 ≈ 1.714 → 1.
    logliks = [Loglik(-10.0, False, 4), Loglik(-12.0, False, 6), Loglik(-30.0, False, 6)]
    assert MOD.choose(logliks, None, PPL) == "1"
    # ties go to the first candidate, as list.index(min(...)) does in PPLInferencer
    assert MOD.choose([Loglik(-4.0, False, 3), Loglik(-4.0, False, 3)], None, PPL) == "0"


def test_aggregate_reports_both_splits_and_test_as_headline():
    rows = pd.DataFrame(
        {
            "item_id": ["chid-dev/0000", "chid-dev/0001", "chid-test/0000"],
            "subset": ["chid-dev", "chid-dev", "chid-test"],
            "metrics": [{"accuracy": 1.0}, {"accuracy": 0.0}, {"accuracy": 1.0}],
        }
    )
    assert MOD.aggregate(rows, SPEC) == {"chid-dev": 50.0, "chid-test": 100.0, "accuracy": 100.0}
