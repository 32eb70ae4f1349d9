"""Edition rule files (one YAML per edition in scoring/): which tasks, views, points and gates apply.

Only the fields every part of evalfleet needs are typed here; a view's own settings stay in
`views` and are read by that view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from evalfleet.errors import EvalfleetError
from evalfleet.spec import validation as v
from evalfleet.spec.paths import scoring_dir
from evalfleet.types import DTYPES


@dataclass(frozen=True)
class Edition:
    """One challenge edition's scoring rules."""

    name: str
    """File stem, e.g. 'edge-llm-2024'."""
    description: str
    """One line shown atop reports."""
    tasks: tuple[str, ...]
    """Open tasks evaluated by default (task ids, variants allowed)."""
    holdout: tuple[str, ...] = ()
    """Holdout ('secret') tasks, scored like open ones but listed apart."""
    allowed_dtypes: tuple[str, ...] = DTYPES
    """Weight dtypes a submission may have (edge-llm-2024: float16, float32)."""
    views: Mapping[str, Any] = field(default_factory=dict)
    """View name -> that view's settings (see the scoring package)."""
    raw: Mapping[str, Any] = field(default_factory=dict)
    """The whole parsed file, for rules not typed above."""


def available_editions(directory: Path | None = None) -> list[str]:
    """Names of the rule files in scoring/."""
    return sorted(p.stem for p in (directory or scoring_dir()).glob("*.yaml"))


def track_in_names(names: list[str], tracks) -> str:
    """The one track of `tracks` named in every file name (e.g. 'A100_full_ranks_final_round.json' -> 'A100'),
    else ''."""
    hits = {str(t) for t in tracks if t and all(str(t).lower() in Path(n).name.lower() for n in names)}
    return hits.pop() if len(hits) == 1 else ""


def load_edition(name: str, directory: Path | None = None) -> Edition:
    """Read scoring/<name>.yaml."""
    path = (directory or scoring_dir()) / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(available_editions(directory)) or "none"
        raise EvalfleetError(f"unknown edition '{name}' (known: {known})", source=str(path), field="edition")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise EvalfleetError(f"malformed YAML: {exc}", source=str(path)) from exc
    if not isinstance(raw, dict):
        raise EvalfleetError("a rule file must be a mapping", source=str(path))

    def strings(key: str) -> dict[str, tuple[str, ...]]:
        """{key: the list} when the file sets it; absent keys keep Edition's defaults."""
        return {key: v.strings(raw[key], source=str(path), field=key)} if key in raw else {}

    return Edition(
        name=name,
        description=str(raw.get("description", "")),
        tasks=v.strings(raw.get("tasks", []), source=str(path), field="tasks"),
        **strings("holdout"),
        **strings("allowed_dtypes"),
        views=v.mapping(raw.get("views"), source=str(path), field="views"),
        raw=raw,
    )
