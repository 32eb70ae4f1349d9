"""ELMB task module: the lm-evaluation-harness context/continuations, and acc / acc_norm from known log-likelihoods.

Reference for the known pairs: lm-eval 0.4's `ConfigurableTask.process_results` for multiple_choice —
acc = argmax(lls) == gold; acc_norm = argmax(lls / [len(choice) for choice in choices]) == gold
(numpy's argmax: the first index on ties; len of the choice text without the leading space).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from evalfleet import benchmarks
from evalfleet.benchmarks.elmb import load_items, render_context, score
from evalfleet.errors import EvalfleetError
from evalfleet.spec.taskspec import load_task
from evalfleet.types import Item, Loglik, Message

FIXTURES = Path(__file__).resolve().parents[2] / "evalfleet" / "benchmarks" / "fixtures"
TASKS = ["elmb_roleplay", "elmb_reasoning", "elmb_function_calling", "elmb_chatrag"]


def _item(choices, answer):
    return Item(
        id="0000",
        messages=(Message("user", "Question: q\nAnswer:"),),
        reference=answer,
        choices=tuple(" " + c for c in choices),
        meta={"choice_lengths": [len(c) for c in choices]},
    )


def _ll(*values):
    return [Loglik(v, False, 1) for v in values]


@pytest.mark.parametrize(
    "choices, answer, lls, acc, acc_norm",
    [
        (["yes", "absolutely certain"], 1, (-4.0, -9.0), 0.0, 1.0),
        (["no", "maybe later"], 0, (-3.0, -5.0), 1.0, 0.0),
        (["ab", "cd"], 1, (-2.0, -2.0), 0.0, 0.0),
        (["ab", "cd"], 0, (-2.0, -2.0), 1.0, 1.0),
        (["a", "b", "c", "d"], 3, (-9.0, -8.0, -7.5, -7.0), 1.0, 1.0),
        # characters, not bytes: '北海道' is 3 characters but 9 UTF-8 bytes.
        # per character: -3.3/3 = -1.1 vs -2.4/2 = -1.2 -> index 0; per byte it would be -0.367 vs -1.2 -> also 0,
        # so pick one where they differ: 'ééé' (3 chars, 6 bytes) -2.7/3 = -0.9 vs 'xy' -1.7/2 = -0.85 -> index 1
        # per character, while per byte -2.7/6 = -0.45 would pick index 0.
        (["ééé", "xy"], 1, (-2.7, -1.7), 1.0, 1.0),
        (["ééé", "xy"], 0, (-2.7, -1.7), 0.0, 0.0),
    ],
)
def test_known_loglikelihoods(choices, answer, lls, acc, acc_norm):
    item = _item(choices, answer)
    logliks = _ll(*lls)
    chosen = benchmarks.choose(logliks, item, load_task("elmb_roleplay"))  # the default choose: elmb has none
    assert score(chosen, item, None, logliks) == {"acc": acc, "acc_norm": acc_norm}


def test_score_without_logliks_gives_acc_only():
    assert score("1", _item(["a", "b"], 1)) == {"acc": 1.0}


def test_score_checks_the_number_of_logliks():
    with pytest.raises(EvalfleetError, match="3 log-likelihoods for 2 choices"):
        score("0", _item(["a", "b"], 0), None, _ll(-1, -2, -3))


@pytest.mark.parametrize("task", TASKS)
def test_items_are_lm_eval_requests(task):
    spec = load_task(task)
    assert spec.kind == "loglikelihood" and spec.metric == "acc" and spec.module == "elmb"
    items = load_items(spec, FIXTURES)
    assert len(items) == 6 and [i.id for i in items] == sorted(i.id for i in items)
    for item in items:
        (message,) = item.messages
        assert message.role == "user" and message.content.endswith("\nAnswer:")
        assert all(c.startswith(" ") for c in item.choices)


def test_exact_context_strings():
    roleplay = load_items(load_task("elmb_roleplay"), FIXTURES)[0]
    assert roleplay.messages[0].content == (
        "Question: You are a ship's cook greeting a new sailor at breakfast. What do you say?\nAnswer:"
    )
    assert roleplay.choices[0] == " Welcome aboard! Grab a bowl of porridge before it's gone."
    assert roleplay.reference == 0
    rag = load_items(load_task("elmb_chatrag"), FIXTURES)[1]
    assert rag.messages[0].content == (
        "Context: Mira bought 3 apples on Monday and 4 more on Tuesday. She ate none.\n"
        "Question: How many apples does Mira have?\nAnswer:"
    )
    assert rag.choices == (" 3", " 4", " 7", " 12") and rag.reference == 2


def test_context_template_is_filled_in_one_pass():
    row = {"ctx": "a {question} inside", "question": "Q"}
    assert render_context("Context: {ctx}\nQuestion: {question}", row) == "Context: a {question} inside\nQuestion: Q"
    with pytest.raises(EvalfleetError, match="lacks"):
        render_context("{missing}", row)


def test_rule_file_names_these_tasks():
    from evalfleet.spec.edition import load_edition

    edition = load_edition("elmb-2025")
    assert list(edition.tasks) == TASKS
    assert set(edition.views["delta"]["use_cases"].values()) == set(TASKS)
    assert edition.views["delta"]["metric"] in ("acc", "acc_norm")
