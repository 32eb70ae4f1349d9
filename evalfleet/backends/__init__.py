"""Inference backends, one small protocol, looked up lazily by name.

    class Backend(Protocol):
        tokenizer: transformers tokenizer (used for chat templates and token counts)
        def generate(self, prompts: Sequence[str], params: GenerationParams) -> list[Generation]
        def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[Loglik]
        def close(self) -> None

A backend is built with `load_backend(name, model, **options)`; torch / vllm are imported inside
the backend module, so planning, the driver and scoring never need them.
"""

from __future__ import annotations

import importlib
from typing import Any

from evalfleet.errors import EvalfleetError
from evalfleet.types import ModelRef

BACKENDS = {
    "hf": "evalfleet.backends.hf:HFBackend",
    "vllm": "evalfleet.backends.vllm:VLLMBackend",
}


def load_backend(name: str, model: ModelRef, **options: Any):
    """Instantiate backend `name` holding `model`; options are backend keyword arguments."""
    if name not in BACKENDS:
        raise EvalfleetError(f"unknown backend {name!r} (known: {', '.join(BACKENDS)})", field="backend")
    module_name, _, attr = BACKENDS[name].partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    return cls(model, **options)
