"""Render an item's Message rounds into the prompt string a model sees.

- base: the rounds' contents concatenated, as OpenCompass's HuggingFaceBaseModel does.
- chat: the tokenizer's chat template with a generation prompt, as `--hf-type chat` does.
"""
from __future__ import annotations

import hashlib
from typing import Any, Sequence

from .errors import EvalfleetError
from .types import PROMPT_STYLES, Message


def render(messages: Sequence[Message], style: str, tokenizer: Any = None) -> str:
    """The prompt string for `messages` in prompt style `style` ('base' or 'chat')."""
    if style == "base":
        return "".join(m.content for m in messages)
    if style == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise EvalfleetError("prompt style 'chat' needs a tokenizer with a chat template", field="prompt_style")
        return tokenizer.apply_chat_template(
            [{"role": m.role, "content": m.content} for m in messages], tokenize=False, add_generation_prompt=True
        )
    raise EvalfleetError(f"must be one of {PROMPT_STYLES}, got {style!r}", field="prompt_style")


def prompt_hash(prompt: str) -> str:
    """Short, stable hash of a rendered prompt (recorded in every row)."""
    return hashlib.sha256(prompt.encode()).hexdigest()[:16]
