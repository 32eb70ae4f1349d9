"""The exact prompt of a recorded row, rendered again from the task spec and the item as the worker rendered
it (`evalfleet.benchmarks.prompting.render`, the model's prompt style; chat style through the model's
tokenizer), and checked against the row's recorded prompt hash.

A mismatch means the prompt recorded is not the one this spec and these items give now (the task file,
the data or the template changed since the run): the page says so rather than show a wrong prompt as sent.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from evalfleet.benchmarks.prompting import prompt_hash, render
from evalfleet.errors import EvalfleetError
from evalfleet.explore.catalog import Catalog
from evalfleet.plan.tokens import load_tokenizer
from evalfleet.types import Item


@dataclass(frozen=True)
class PromptCheck:
    """A prompt rendered again and compared with the record."""

    prompt: str | None
    """The prompt as rendered now (None when it cannot be: see `note`)."""
    rendered_hash: str
    """prompt_hash of `prompt` ('' when not rendered)."""
    recorded_hash: str
    """The row's prompt_hash ('' for rows that never reached the model, e.g. measurements or errors)."""
    note: str = ""
    """Why the prompt could not be rendered, or what the hash comparison means."""

    @property
    def matches(self) -> bool | None:
        """True/False when both hashes are known, else None."""
        if not self.rendered_hash or not self.recorded_hash:
            return None
        return self.rendered_hash == self.recorded_hash


class Prompts:
    """Renders prompts of one catalog's items; tokenizers of chat-style models loaded once each."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self._tokenizers: dict[str, Any] = {}
        self._lock = threading.Lock()

    def item(self, task: str, item_id: str) -> Item | None:
        """The task's item `item_id` as the run loaded it (None when the items do not load here)."""
        return self.catalog.plan(task).items.get(item_id)

    def check(self, task: str, model: str, item_id: str, style: str, recorded: str) -> PromptCheck:
        """Render the item's prompt in `style` (the row's prompt style) and compare it with `recorded`."""
        plan = self.catalog.plan(task)
        if plan.problem:
            return PromptCheck(None, "", recorded, f"cannot render: {plan.problem}")
        item = plan.items.get(item_id)
        if item is None:
            return PromptCheck(None, "", recorded, "cannot render: the item is not among the run config's items now")
        try:
            prompt = render(item.messages, style, self._tokenizer(model) if style == "chat" else None)
        except (EvalfleetError, OSError, ValueError) as exc:
            return PromptCheck(None, "", recorded, f"cannot render: {exc}")
        rendered = prompt_hash(prompt)
        check = PromptCheck(prompt, rendered, recorded)
        if check.matches is None:
            return PromptCheck(prompt, rendered, recorded, "no prompt hash recorded for this row")
        if not check.matches:
            return PromptCheck(
                prompt,
                rendered,
                recorded,
                "the recorded hash differs: the task spec, its data or the template changed since this row was "
                "recorded, so this is not the prompt that was sent",
            )
        return check

    def _tokenizer(self, model: str) -> Any:
        ref = self.catalog.models().get(model)
        if ref is None:
            raise EvalfleetError(f"model {model} is not in run.yaml: its tokenizer is unknown")
        with self._lock:
            if ref.path not in self._tokenizers:
                self._tokenizers[ref.path] = load_tokenizer(ref.path)
            return self._tokenizers[ref.path]
