"""prompting: OpenCompass's template filling and its base/chat conversions (HuggingFaceBaseModel,
HuggingFacewithChatTemplate), as read from OpenCompass 0.5.4 and proven item by item in tests/parity."""

from __future__ import annotations

import pytest

from evalfleet.benchmarks.prompting import build_messages, chat_messages, fill, render, render_base
from evalfleet.errors import EvalfleetError
from evalfleet.types import Message

U, A, S, T = "user", "assistant", "system", "text"


def msgs(*pairs):
    return tuple(Message(r, c) for r, c in pairs)


def test_fill_is_safe_format():
    # Only the item's fields are replaced, in field order; other braces stay (\frac{{a}} keeps '{{').
    assert fill("Q: {q} \\frac{{a}}{b} {missing}", {"q": "x{b}", "b": "2"}) == "Q: x2 \\frac{{a}}2 {missing}"
    assert fill("{a}{b}", {"b": "B", "a": "{b}"}) == "{b}B"  # 'a' replaced after 'b': not re-filled


def test_base_joins_rounds_with_newline():
    assert render_base(msgs((U, "Q1"), (A, "A1\n"), (U, "Q2"))) == "Q1\nA1\n\nQ2"
    assert render_base(msgs((T, ""), (U, "Q"))) == "\nQ"  # an empty first round still sets the separator
    assert render_base(msgs((U, "Q"), (A, ""))) == "Q"  # empty answer slot adds nothing
    assert render_base(msgs((U, "Q"), (A, "A:"))) == "Q\nA:"  # a non-empty answer prefix is printed


def test_chat_conversion():
    # Every user turn gets '\n' from the empty SYSTEM slot of OpenCompass's meta round.
    assert chat_messages(msgs((U, "Q1"), (A, "A1"), (U, "Q2"), (A, ""))) == [
        {"role": "user", "content": "Q1\n"},
        {"role": "assistant", "content": "A1"},
        {"role": "user", "content": "Q2\n"},
    ]
    # The last round's assistant slot (answer prefix) is never sent; 'text' rounds are ignored.
    assert chat_messages(msgs((T, ""), (U, "Q"), (A, "Answer:"))) == [{"role": "user", "content": "Q\n"}]
    # A system round joins the user turn of its round (SYSTEM maps to HUMAN).
    assert chat_messages(msgs((U, "Q"), (S, "be brief"))) == [{"role": "user", "content": "Q\nbe brief"}]
    # A system round before a user starts its own round: '' user slot, then merged with the next user.
    assert chat_messages(msgs((S, "sys"), (U, "Q"))) == [{"role": "user", "content": "\nsys\nQ\n"}]


def test_render_chat_with_tiny_tokenizer():
    from evalfleet.demo.tiny import train_tokenizer

    tok = train_tokenizer()
    text = render(msgs((U, "Q1"), (A, "A1"), (U, "Q2")), "chat", tok)
    assert text == "<|user|>\nQ1\n<|end|>\n<|assistant|>\nA1<|end|>\n<|user|>\nQ2\n<|end|>\n<|assistant|>\n"


def test_errors():
    with pytest.raises(EvalfleetError, match="chat"):
        render(msgs((U, "Q")), "chat", None)
    with pytest.raises(EvalfleetError, match="prompt_style"):
        render(msgs((U, "Q")), "fancy")
    with pytest.raises(EvalfleetError, match=r"options.rounds\[1\]"):
        build_messages([{"role": "user", "content": "x"}, {"role": "bot", "content": "y"}], {})
