"""Inference backends (the `evalfleet.contracts.Backend` protocol), looked up lazily by name.

    class Backend(Protocol):
        OPTIONS: frozenset[str]     keyword options the constructor accepts
        tokenizer: transformers tokenizer (used for chat templates and token counts)
        def generate(self, prompts: Sequence[str], params: GenerationParams) -> list[Generation]
        def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[Loglik]
        def close(self) -> None

A backend is built with `load_backend(name, model, **options)`; torch / vllm are imported inside
the backend's methods, so importing a backend module (for its OPTIONS) is cheap, and planning,
the driver and scoring never need them.
"""

from __future__ import annotations

import importlib
from typing import Any

from evalfleet.contracts import Backend
from evalfleet.errors import EvalfleetError
from evalfleet.spec.validation import known_keys
from evalfleet.types import ModelRef

BACKENDS = {
    "hf": "evalfleet.backends.hf:HFBackend",
    "vllm": "evalfleet.backends.vllm:VLLMBackend",
}
"""Backend name (a run config's `backend:`) -> 'module:class'."""


def backend_class(name: str) -> type[Backend]:
    """The class of backend `name` (imports its module, which imports no torch / vllm)."""
    if name not in BACKENDS:
        raise EvalfleetError(f"unknown backend {name!r} (known: {', '.join(BACKENDS)})", field="backend")
    module_name, _, attr = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)


def backend_options(name: str) -> frozenset[str]:
    """The keyword options backend `name` accepts (its class's OPTIONS)."""
    return backend_class(name).OPTIONS


def load_backend(name: str, model: ModelRef, **options: Any) -> Backend:
    """Instantiate backend `name` holding `model`; options are backend keyword arguments (unknown ones rejected)."""
    cls = backend_class(name)
    known_keys(options, cls.OPTIONS, source=None, field="backend_options", what=f"{name} backend option")
    return cls(model, **options)
