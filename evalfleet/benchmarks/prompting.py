"""Build an item's Message rounds from a task's templates, and render them into the prompt a model sees.

The two prompt styles are OpenCompass's two HuggingFace model wrappers, reproduced exactly:

- base (`HuggingFaceBaseModel`, no meta template): the rounds' contents joined by '\\n'. An empty
  round adds nothing, but still makes the next non-empty round start with '\\n' (OpenCompass sets
  its separator after every round, printed or not); this is why an empty leading round (the
  ice-token placeholder of a config's `begin`) yields a prompt that starts with '\\n'.
- chat (`HuggingFacewithChatTemplate`, `--hf-type chat`): OpenCompass's default API meta template
  (HUMAN, SYSTEM→HUMAN, BOT) is applied round by round. A round is a run of messages in the order
  user, system, assistant; every round emits all three slots, an absent one as an empty string,
  and the last round stops before its assistant slot (the answer to generate). Consecutive slots
  of one role are joined with '\n' (so each user turn ends with '\n', from the empty system
  slot), then empty turns are dropped and neighbours of one role joined again with '\n'; the
  tokenizer's chat template is applied with a generation prompt.

A round with role 'text' is a bare string of a config's begin/end section (e.g. the in-context
example slot '</E>', empty with ZeroRetriever): printed in base style, ignored in chat style.
A single message with role 'prompt' is the whole prompt of a config whose template is a plain
string (not rounds, e.g. tydiqa_gen_978d2a): base style prints it, chat style sends it as the one
user turn, unchanged (OpenCompass's `_convert_chat_messages` of a str).

Templates are filled the OpenCompass way (`safe_format`): each `{field}` of the item is replaced,
field by field in the item's field order; every other brace stays as written.
"""

from __future__ import annotations

import hashlib
from typing import Any, Iterable, Mapping, Sequence

from evalfleet.errors import EvalfleetError
from evalfleet.types import PROMPT_STYLES, Message

ROUND_ROLES = ("system", "user", "assistant", "text", "prompt")
_SLOTS = ("user", "system", "assistant")  # OpenCompass's meta round order


def fill(template: str, fields: Mapping[str, Any]) -> str:
    """Replace '{name}' by str(value) for each field, in the mapping's order (OpenCompass's safe_format)."""
    for name, value in fields.items():
        template = template.replace("{" + name + "}", str(value))
    return template


def build_messages(
    rounds: Iterable[Mapping[str, str]], fields: Mapping[str, Any], *, source: str = "<task>"
) -> tuple[Message, ...]:
    """Message rounds from a task's `rounds` option (mappings with `role` and `content`), each filled with `fields`."""
    messages = []
    for i, r in enumerate(rounds):
        role, content = r.get("role"), r.get("content")
        if role not in ROUND_ROLES or not isinstance(content, str):
            raise EvalfleetError(
                f"each round needs a role in {ROUND_ROLES} and a string content, got {dict(r)!r}",
                source=source,
                field=f"options.rounds[{i}]",
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
    if len(messages) == 1 and messages[0].role == "prompt":
        return [{"role": "user", "content": messages[0].content}]
    rounds: list[dict[str, str]] = []
    last_slot = len(_SLOTS)
    for m in messages:
        if m.role == "text":
            continue
        slot = _SLOTS.index(m.role)
        if slot <= last_slot:
            rounds.append({})
        rounds[-1][m.role] = m.content
        last_slot = slot
    turns: list[dict[str, str]] = []
    for k, round_ in enumerate(rounds):
        for role in _SLOTS:
            if role == "assistant" and k == len(rounds) - 1:
                break
            _append(turns, "assistant" if role == "assistant" else "user", round_.get(role, ""))
    merged: list[dict[str, str]] = []
    for turn in turns:
        if turn["content"]:
            _append(merged, turn["role"], turn["content"])
    return merged


def _append(turns: list[dict[str, str]], role: str, content: str) -> None:
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"] += "\n" + content
    else:
        turns.append({"role": role, "content": content})


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
