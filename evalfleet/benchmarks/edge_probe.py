"""edge_probe: the throughput / peak-memory probe as a task of kind 'measure' (tasks/edge_probe.yaml).

One item per task variant: the probe configuration (mode and settings from the spec's options,
see `evalfleet.checks.probe.ProbeSettings`). The worker calls `measure(backend, item, spec)` with its
loaded model; the metrics (throughput, memory_mb, prefill/decode tokens per second, seconds) are
recorded like any item's and aggregated as plain means (not percentages).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pandas as pd

from evalfleet.benchmarks._frames import metrics_frame
from evalfleet.checks.probe import SETTINGS, make_settings, run_probe
from evalfleet.contracts import Backend
from evalfleet.errors import EvalfleetError
from evalfleet.types import Item, Message, TaskSpec

OPTIONS = SETTINGS | {"mode"}
"""Keys read from `spec.options`: the probe mode and any ProbeSettings field (evalfleet.checks.probe)."""


def load_items(spec: TaskSpec, data_dir: Path) -> list[Item]:
    """The single probe configuration of this variant (no data files)."""
    options = dict(spec.options)
    settings = make_settings(options.pop("mode", "default"), options, source=f"tasks/{spec.name}.yaml", field="options")
    prompt = f"edge_probe {settings.mode}: {settings.batch_size} x {settings.input_tokens} corpus tokens"
    return [Item(id=settings.mode, messages=(Message("user", prompt),), meta=asdict(settings))]


def measure(backend: Backend, item: Item, spec: TaskSpec) -> dict[str, float]:
    """Probe the backend's loaded transformers model (the hf backend exposes `.model` and `.tokenizer`)."""
    model = getattr(backend, "model", None)
    if model is None or not hasattr(model, "parameters"):
        raise EvalfleetError(
            f"the probe needs a transformers model; backend {type(backend).__name__} has none (use backend: hf)",
            source=f"tasks/{spec.name}.yaml",
        )
    meta = dict(item.meta)
    settings = make_settings(meta.pop("mode"), meta, source=f"tasks/{spec.name}.yaml", field="options")
    return run_probe(model, backend.tokenizer, settings)


def aggregate(rows: pd.DataFrame, spec: TaskSpec) -> dict[str, float]:
    """Mean of each metric over the recorded rows (one per probe run), in the metric's own unit."""
    if rows.empty:
        return {}
    metrics = metrics_frame(rows)
    return {name: float(metrics[name].mean()) for name in metrics.columns}
