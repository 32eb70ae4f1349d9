"""HELM 2023 metric values imported from a published table (`evalfleet import-helm`), not run by evalfleet.

One recorded row per team and HELM scenario: item_id = subset = the scenario ('MMLU', 'sam_sum', ...),
`metrics` = that scenario's HELM metric values ({'MMLU - EM': 0.68, ...}; a null in the table is NaN).
`aggregate` hands them on unchanged, so the llm-efficiency-2023 views score them like any other task.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from evalfleet.errors import EvalfleetError
from evalfleet.types import Item, TaskSpec

OPTIONS = frozenset()
"""Keys read from `spec.options`: none (the rows are imported tables)."""

IMPORTED = True
"""Rows come from `evalfleet import-helm`, not from a model: `evalfleet verify` has nothing to re-extract."""


def load_items(spec: TaskSpec, data_dir: Path) -> list[Item]:
    """Imported tasks have no items to run: import them with `evalfleet import-helm`."""
    raise EvalfleetError(
        "HELM scenarios are imported, not run: use `evalfleet import-helm TABLE.json --results DIR`",
        source=spec.name,
        field="tasks",
    )


def score(extracted: str, item: Item, spec: TaskSpec | None = None) -> dict[str, float]:
    """The recorded metric values (kept in the item's reference at import time)."""
    return {k: (float("nan") if v is None else float(v)) for k, v in dict(item.reference or {}).items()}


def aggregate(rows: pd.DataFrame, spec: TaskSpec) -> dict[str, float]:
    """Every recorded metric value, unchanged (HELM's fractions, not percent); a metric twice is an error."""
    out: dict[str, float] = {}
    for metrics in rows["metrics"]:
        for name, value in dict(metrics).items():
            if name in out:
                raise EvalfleetError(f"metric '{name}' recorded twice for one model", source=spec.name, field="metrics")
            out[name] = (
                float("nan") if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)
            )
    return out
