"""LongBench: item counts, prompts, truncation rule, and OpenCompass's (output → extracted → score) pairs.

The expected scores were produced by OpenCompass 0.5.4's LongBench*Evaluator on one-item lists (the
value it reports is 100 × our per-item score); the parity suite re-checks them against OpenCompass.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from evalfleet.benchmarks import get_module
from evalfleet.benchmarks import longbench_metrics as m
from evalfleet.benchmarks.prompting import render
from evalfleet.errors import EvalfleetError
from evalfleet.spec.taskspec import load_task
from evalfleet.types import Item

SPEC = load_task("longbench")
MOD = get_module(SPEC)
SHARED3 = ("multi_news", "multifieldqa_zh", "passage_retrieval_zh")


@pytest.mark.parametrize(
    "pred,answers,oc",
    [
        ("The Eiffel Tower", ["eiffel tower"], 100.0),
        ("Paris, France", ["Paris"], 66.66666666666666),
        ("a b c", ["b c d", "x"], 80.0),
        ("", ["x"], 0.0),
        ("the", ["the"], 0.0),
    ],
)
def test_qa_f1_en(pred, answers, oc):
    assert m.qa_f1(pred, answers, "en") * 100 == pytest.approx(oc, abs=1e-12)


@pytest.mark.parametrize(
    "pred,answers,oc",
    [
        ("厦门大学", ["厦门大学。"], 100.0),
        ("在厦门大学举办", ["厦门大学。"], 50.0),
        ("北京", ["厦门大学"], 0.0),
        ("", ["厦门大学"], 0.0),
    ],
)
def test_qa_f1_zh(pred, answers, oc):
    assert m.qa_f1(pred, answers, "zh") * 100 == pytest.approx(oc, abs=1e-12)


@pytest.mark.parametrize(
    "pred,answers,lang,oc",
    [
        ("the cat sat on the mat", ["the cat is on the mat"], "en", 79.99999950000002),
        ("", ["x y"], "en", 0.0),
        ("a b c d", ["a b c d"], "en", 99.9999995),
        ("...", ["x"], "en", 0.0),
        ("我爱北京天安门", ["我爱北京"], "zh", 85.7142852244898),
        ("我爱北京天安门", ["上海", "我爱北京"], "zh", 85.7142852244898),  # prediction re-segmented per answer
    ],
)
def test_rouge_l(pred, answers, lang, oc):
    assert m.rouge_l(pred, answers, lang) * 100 == pytest.approx(oc, abs=1e-9)


def test_rouge_l_by_hand():
    # LCS('w1 w2 w3 w4 w5', 'w1 w9 w3 w5') = w1 w3 w5: P = 3/5, R = 3/4, F = 2PR/(P+R) = 2/3.
    assert m.rouge_l("w1 w2 w3 w4 w5", ["w1 w9 w3 w5"], "en") == pytest.approx(2 / 3, abs=1e-7)
    assert m.rouge_l("a b c d", ["a b x d"], "en") == pytest.approx(0.75, abs=1e-7)


@pytest.mark.parametrize(
    "pred,answers,oc",
    [
        ("\n# comment\nx = foo(1)\n", ["x = foo(2)"], 90.0),
        ("```python", ["x"], 0.0),
        ("abc", ["abc"], 100.0),
        ("", [""], 100.0),
    ],
)
def test_code_sim(pred, answers, oc):
    assert m.code_sim(pred, answers) * 100 == oc


def test_fuzz_ratio_by_hand():
    # Indel similarity: 'kitten' vs 'sitting' share 'itt' + 'n' = 4 → 2*4/13 = 61.5% → 62.
    assert m.fuzz_ratio("kitten", "sitting") == 62
    assert m.fuzz_ratio("", "") == 100 and m.fuzz_ratio("a", "") == 0


CLASSES = ["Location", "Other location", "Entity"]


@pytest.mark.parametrize(
    "pred,answers,classes,oc",
    [
        ("Location", ["Location"], CLASSES, 100.0),
        ("Other location", ["Other location"], CLASSES, 100.0),
        ("Entity and Location", ["Location"], CLASSES, 50.0),
        ("nothing", ["Location"], ["Location", "Entity"], 0.0),
    ],
)
def test_classification(pred, answers, classes, oc):
    assert m.classification(pred, answers, classes) * 100 == oc


@pytest.mark.parametrize(
    "fn,pred,answers,oc",
    [
        (lambda p, a: m.count(p, a), "12", [12], 100.0),
        (lambda p, a: m.count(p, a), "12 or 13", [12], 50.0),
        (lambda p, a: m.count(p, a), "none", [3], 0.0),
        (lambda p, a: m.count(p, a), "3 3", [3], 100.0),
        (lambda p, a: m.retrieval(p, a, "zh"), "段落27", ["段落27"], 100.0),
        (lambda p, a: m.retrieval(p, a, "zh"), "段落2和段落27", ["段落27"], 50.0),
        (lambda p, a: m.retrieval(p, a, "zh"), "无", ["段落1"], 0.0),
        (lambda p, a: m.retrieval(p, a, "en"), "Paragraph 5", ["Paragraph 5"], 100.0),
        (lambda p, a: m.retrieval(p, a, "en"), "Paragraph 15", ["Paragraph 5"], 0.0),
    ],
)
def test_count_and_retrieval(fn, pred, answers, oc):
    assert fn(pred, answers) * 100 == oc


@pytest.mark.parametrize("text,first_line", [("\n\nLocation\nmore", "Location"), ("", ""), ("a\nb", "a")])
def test_first_line_subsets(text, first_line):
    item = Item(id="trec/0000", messages=(), subset="trec")
    assert MOD.extract(text, item, SPEC) == first_line
    assert MOD.extract(text, Item(id="x", messages=(), subset="multi_news"), SPEC) == text


def test_spec_covers_21_subsets():
    assert len(SPEC.options["subsets"]) == 21 and len(SPEC.data_files) == 21
    assert {c["category"] for c in SPEC.options["datasets"].values()} == set(MOD.CATEGORIES)
    assert load_task("longbench:qasper").options["subsets"] == ["qasper"]
    assert load_task("longbench:multi_news").generation.max_new_tokens == 512


def test_missing_subset_file_is_named(shared_data):
    with pytest.raises(EvalfleetError, match="narrativeqa.jsonl"):
        MOD.load_items(SPEC, shared_data)


@pytest.mark.parametrize("subset", SHARED3)
def test_items_of_the_shared_subsets(shared_data, subset):
    spec = load_task(f"longbench:{subset}")
    items = MOD.load_items(spec, shared_data)
    assert len(items) == 200 and items[0].id == f"{subset}/0000"
    assert [i.id for i in items] == sorted(i.id for i in items)
    assert all(i.subset == subset and len(i.messages) == 1 for i in items)
    prompt = render(items[0].messages, "base")
    if subset == "multi_news":
        assert "NEWLINE_CHAR" in prompt and prompt.endswith(
            "Now, write a one-page summary of all the news.\n\nSummary:\n"
        )
        assert items[0].meta["max_new_tokens"] == 512
    elif subset == "multifieldqa_zh":
        assert prompt.startswith("阅读以下文字并用中文简短回答：\n\n全国美国文学研究会")
        assert prompt.endswith("问题：全国美国文学研究会的第十八届年会在哪所大学举办的？\n回答：")
        assert items[0].reference["answers"] == ["厦门大学。"] and items[0].meta["max_new_tokens"] == 64
    else:
        assert prompt.endswith('答案格式必须是"段落1"，"段落2"等格式\n\n答案是：')
        assert items[0].reference["answers"] == ["段落27"]
        assert MOD.score(MOD.extract("段落27", items[0], spec), items[0], spec) == {"score": 1.0}


def test_aggregate_is_the_mean_of_category_means():
    spec = dataclasses.replace(SPEC, options={**SPEC.options, "subsets": list(SHARED3) + ["trec"]})
    rows = pd.DataFrame(
        {
            "item_id": [
                "multi_news/0000",
                "multi_news/0001",
                "multifieldqa_zh/0000",
                "passage_retrieval_zh/0000",
                "trec/0000",
            ],
            "subset": ["multi_news", "multi_news", "multifieldqa_zh", "passage_retrieval_zh", "trec"],
            "metrics": [{"score": 0.5}, {"score": 0.25}, {"score": 1.0}, {"score": 0.0}, {"score": 1.0}],
        }
    )
    out = MOD.aggregate(rows, spec)
    assert out["LongBench_multi_news"] == 37.5 and out["LongBench_trec"] == 100.0
    assert out["longbench_summarization"] == 37.5 and out["longbench_synthetic-tasks"] == 0.0
    # four categories present: summarization 37.5, single-doc 100, synthetic 0, few-shot 100
    assert out["score"] == pytest.approx((37.5 + 100 + 0 + 100) / 4)


def test_middle_truncate():
    ids = list(range(10))
    assert MOD.middle_truncate(ids, None) == ids and MOD.middle_truncate(ids, 10) == ids
    assert MOD.middle_truncate(ids, 6) == [0, 1, 2, 7, 8, 9]
    assert MOD.middle_truncate(ids, 7) == [0, 1, 2, 7, 8, 9]  # odd budgets keep 2 * (budget // 2)
    assert MOD.middle_truncate(ids, 1) == ids
    assert MOD.prompt_budget(2048, 512) == 1536


def test_left_truncate_keeps_the_last_tokens():
    from evalfleet.backends.truncation import left_truncate

    assert left_truncate(list(range(10)), 4) == [6, 7, 8, 9]
    assert left_truncate(list(range(3)), 4) == [0, 1, 2]
