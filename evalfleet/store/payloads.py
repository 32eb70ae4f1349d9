"""Fingerprint payloads stored once, by content: what keeps a final's manifest small.

A shard's generation and scoring payloads (`plan.fingerprint`) are mostly the same for thousands of
shards (the same code, environment and task). The manifest entry keeps one short digest per
component (`generation_components`, `scoring_components`); each distinct component value is
written once to RESULTS/payloads/<digest>.json, a new object per value and never rewritten, so
local, NFS and object-store roots behave alike. The shard file's footer carries the full payloads
too, so a shard stays auditable on its own.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping

from evalfleet.plan.fingerprint import canonical, components

DIR = "payloads"
"""Folder of the component files under the results root."""


def rel_path(component: str) -> str:
    """RESULTS-relative path of a component file."""
    return f"{DIR}/{component}.json"


def save(
    payload: Mapping[str, Any], exists: Callable[[str], bool], write: Callable[[str, str], None], known: set[str]
) -> dict[str, str]:
    """Write each component value not yet stored; return name -> digest. `known` caches digests seen."""
    found = components(payload)
    for name, d in found.items():
        if d in known:
            continue
        if not exists(rel_path(d)):
            write(rel_path(d), canonical(payload[name]))
        known.add(d)
    return found


def load(digests: Mapping[str, str], read: Callable[[str], str | None]) -> dict[str, Any]:
    """Component name -> value for the stored digests (a missing file gives None)."""
    out = {}
    for name, d in digests.items():
        text = read(rel_path(d))
        out[name] = json.loads(text) if text is not None else None
    return out
