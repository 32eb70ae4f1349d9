"""Build an item's Message rounds from a task's templates, and render them into the prompt a model sees.

The two prompt styles are OpenCompass's two HuggingFace model wrappers, reproduced exactly:

- base (`HuggingFaceBaseModel`, no meta template): the rounds' contents joined by '\\n'. An empty
  round adds nothing, but still makes the next non-empty round start with '\\n' (OpenCompass sets
  its separator after every round, printed or not); this is why an empty leading round (the
  ice-token placeholder of a config's `begin`) yields a prompt that starts with '\\n'.
- chat (`HuggingFacewithChatTemplate`, `--hf-type chat`): a trailing assistant round (the answer
  slot of the config's last round) is dropped, system rounds become user rounds (OpenCompass's
  default API meta template maps SYSTEM to HUMAN on purpose), empty rounds are skipped,
  consecutive rounds of one role are merged with '\\n', and the tokenizer's chat template is
  applied with a generation prompt.

Templates are filled the OpenCompass way (`safe_format`): each `{field}` of the item is replaced,
field by field in the item's field order; every other brace stays as written.
"""
from __future__ import annotations

import hashlib
from typing import Any, Iterable, Mapping, Sequence

from .errors import EvalfleetError
from .types import PROMPT_STYLES, Message

ROUND_ROLES = ("system", "user", "assistant")


def fill(template: str, fields: Mapping[str, Any]) -> str:
    """Replace '{name}' by str(value) for each field, in the mapping's order (OpenCompass's safe_format)."""
    for name, value in fields.items():
        template = template.replace("{" + name + "}", str(value))
    return template


def build_messages(rounds: Iterable[Mapping[str, str]], fields: Mapping[str, Any], *, source: str = "<task>") -> tuple[Message, ...]:
    """Message rounds from a task's `rounds` option (mappings with `role` and `content`), each filled with `fields`."""
    messages = []
    for i, r in enumerate(rounds):
        role, content = r.get("role"), r.get("content")
        if role not in ROUND_ROLES or not isinstance(content, str):
            raise EvalfleetError(
                f"each round needs a role in {ROUND_ROLES} and a string content, got {dict(r)!r}",
                source=source, field=f"options.rounds[{i}]",
            )
        messages.append(Message(role, fill(content, fields)))
    return tuple(messages)


def render_base(messages: Sequence[Message]) -> str:
    """The rounds as OpenCompass's LMTemplateParser (no meta template) concatenates them."""
    prompt, sep = "", ""
    for m in messages:
        if m.content:
            prompt += sep + m.content
        sep = "\n"
    return prompt


def chat_messages(messages: Sequence[Message]) -> list[dict[str, str]]:
    """The conversation OpenCompass's HuggingFacewithChatTemplate hands to `apply_chat_template`."""
    rounds = list(messages)
    if rounds and rounds[-1].role == "assistant":
        rounds = rounds[:-1]
    merged: list[dict[str, str]] = []
    for m in rounds:
        if not m.content:
            continue
        role = "user" if m.role == "system" else m.role
        if merged and merged[-1]["role"] == role:
            merged[-1]["content"] += "\n" + m.content
        else:
            merged.append({"role": role, "content": m.content})
    return merged


def render(messages: Sequence[Message], style: str, tokenizer: Any = None) -> str:
    """The prompt string for `messages` in prompt style `style` ('base' or 'chat')."""
    if style == "base":
        return render_base(messages)
    if style == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise EvalfleetError("prompt style 'chat' needs a tokenizer with a chat template", field="prompt_style")
        return tokenizer.apply_chat_template(chat_messages(messages), tokenize=False, add_generation_prompt=True)
    raise EvalfleetError(f"must be one of {PROMPT_STYLES}, got {style!r}", field="prompt_style")


def prompt_hash(prompt: str) -> str:
    """Short, stable hash of a rendered prompt (recorded in every row)."""
    return hashlib.sha256(prompt.encode()).hexdigest()[:16]
