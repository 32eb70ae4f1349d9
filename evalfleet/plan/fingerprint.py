"""A shard's two fingerprints and the payloads they hash, kept so anyone can tell why a shard recomputes.

- The *generation* fingerprint covers everything that can change an output or a log-likelihood;
  a changed one regenerates the shard (model on a GPU).
- The *scoring* fingerprint covers how stored outputs become per-item scores; a changed one only
  re-extracts and re-scores the stored outputs (no model, seconds).

Each payload is a mapping of named components; `reasons(new, old)` names the components that
differ, the words `evalfleet plan` and `evalfleet run` print: model, task, data, generation, code,
environment (generation side) and scorer (scoring side); 'new' when nothing comparable is stored.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any, Mapping, Sequence

from evalfleet.plan.codehash import generation_code, scoring_code
from evalfleet.types import Fingerprints, Item, ModelRef, TaskSpec

GENERATION_COMPONENTS = ("model", "task", "data", "generation", "code", "environment")
"""The named parts of a generation payload, in the order reasons are printed."""
SCORER = "scorer"
"""The reason given when only the scoring payload differs."""
NEW = "new"
"""The reason given when no shard with the same task, model and index is stored."""


def digest(obj: Any) -> str:
    """sha256 of the canonical JSON of `obj` (sorted keys, tuples as lists)."""
    return hashlib.sha256(canonical(obj).encode()).hexdigest()


def canonical(obj: Any) -> str:
    """The JSON text fingerprints hash: sorted keys, no spaces, tuples as lists, other objects by repr."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_plain, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, set, frozenset)):
        return list(value) if isinstance(value, tuple) else sorted(value, key=repr)
    return repr(value)


def generation_payload(
    *,
    model: ModelRef,
    weights: str,
    adapter: str,
    spec: TaskSpec,
    data: str,
    item_ids: Sequence[str],
    backend: str,
    backend_options: Mapping[str, Any],
    batch_size: int | None,
    environment: Mapping[str, Any],
) -> dict[str, Any]:
    """Everything that can change an output or a log-likelihood of the shard, by component."""
    return {
        "model": {
            "id": model.id,
            "role": model.role,
            "weights": weights,
            "adapter": adapter,
            "dtype": model.dtype,
            "prompt_style": model.prompt_style,
        },
        "task": {
            "id": spec.id,
            "module": spec.module,
            "kind": spec.kind,
            "version": spec.version,
            "data_files": list(spec.data_files),
            "options": dict(spec.options),
        },
        "data": {"files": data, "items": digest(list(item_ids))},
        "generation": {
            "params": asdict(spec.generation),
            "backend": backend,
            "backend_options": dict(backend_options),
            "batch_size": batch_size,
        },
        "code": dict(generation_code(spec.module, backend)),
        "environment": dict(environment),
    }


def scoring_payload(spec: TaskSpec, items: Sequence[Item]) -> dict[str, Any]:
    """Everything that turns the shard's stored outputs into scores: code, task scoring fields, references."""
    refs = [[i.id, i.reference, i.subset, dict(i.meta)] for i in items]
    return {
        "code": dict(scoring_code(spec.module)),
        "task": {"metric": spec.metric, "version": spec.version, "options": dict(spec.options)},
        "references": digest(refs),
    }


def fingerprints(generation: Mapping[str, Any], scoring: Mapping[str, Any]) -> Fingerprints:
    """Both hashes of both payloads."""
    return Fingerprints(digest(generation), digest(scoring), generation, scoring)


COMPONENT_CHARS = 32
"""Hex characters of a component digest (128 bits of sha256) in a manifest entry."""


def components(payload: Mapping[str, Any]) -> dict[str, str]:
    """Component name -> short digest of its value: what a manifest entry keeps of a payload."""
    return {name: digest(value)[:COMPONENT_CHARS] for name, value in payload.items()}


def reasons(new: Fingerprints, stored: Mapping[str, Any] | None) -> list[str]:
    """Components of `new` that differ from a stored manifest entry ('new' when nothing is stored).

    `stored` holds 'scoring_fingerprint' and 'generation_components' (component -> digest) as the
    store writes them; an entry from before components were kept gives every component.
    """
    if not stored:
        return [NEW]
    old = stored.get("generation_components") or {}
    mine = components(new.generation_payload)
    found = [c for c in GENERATION_COMPONENTS if mine.get(c) != old.get(c)]
    if stored.get("scoring_fingerprint") != new.scoring:
        found.append(SCORER)
    return found


def changed_code(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[str]:
    """Modules whose digest differs between two payloads' 'code' components (added or removed too)."""
    a, b = dict(new.get("code") or {}), dict((old or {}).get("code") or {})
    return sorted(m for m in a.keys() | b.keys() if a.get(m) != b.get(m))
