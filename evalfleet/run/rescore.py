"""Re-scoring stored outputs when only the scorer changed: no model, no GPU, the recorded outputs as they are.

A row's generation fields (output, token counts, log-likelihoods, timings, a generation error) are
kept; its extraction and scores are recomputed with the current benchmark module: `extract` for
generate rows, `choose` over the recorded log-likelihoods for log-likelihood rows, then `score`.
Errors raised by an earlier extraction or scoring ('extract: …', 'score: …') are cleared first.
'measure' rows and imported rows are returned unchanged (nothing to re-score).
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Sequence

import pyarrow as pa

from evalfleet import benchmarks
from evalfleet.run.evaluate import _extract, recorded_logliks, score_rows, with_sandbox
from evalfleet.store.results import RECORD_SCHEMA
from evalfleet.types import Item, Shard, TaskSpec

SCORING_ERRORS = ("extract: ", "score: ")
"""Prefixes of the errors that extraction and scoring record (they are recomputed, not kept)."""


def rescorable(spec: TaskSpec) -> bool:
    """False for tasks whose rows have nothing to re-score (probe measurements, imported tables)."""
    return spec.kind != "measure" and not getattr(benchmarks.get_module(spec), "IMPORTED", False)


def reset(row: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `row` with its scoring cleared (score, metrics, isolation, a scoring error)."""
    row = dict(row)
    if row.get("error") and str(row["error"]).startswith(SCORING_ERRORS):
        row["error"] = None
    if row.get("error") is None:
        row.update(score=None, metrics="{}", isolation=None)
    return row


def rechoose(row: dict[str, Any], item: Item, spec: TaskSpec) -> dict[str, Any]:
    """Fill `extracted` (and `output`) of a log-likelihood row from its recorded log-likelihoods."""
    lls = recorded_logliks(row)
    if row["error"] is not None or lls is None:
        return row
    chosen = str(benchmarks.choose(lls, item, spec))
    row["extracted"] = chosen
    row["output"] = item.choices[int(chosen)] if chosen.isdigit() and int(chosen) < len(item.choices) else ""
    return row


def rescore_rows(rows: list[Mapping[str, Any]], spec: TaskSpec, items: Mapping[str, Item]) -> list[dict]:
    """The rows re-extracted and re-scored with the current code (see the module docstring)."""
    if not rescorable(spec):
        return [dict(r) for r in rows]
    fresh = [reset(r) for r in rows]
    if spec.kind == "loglikelihood":
        fresh = [rechoose(r, items[r["item_id"]], spec) for r in fresh]
    else:
        fresh = [_extract(r, items[r["item_id"]], spec) for r in fresh]
    return score_rows(fresh, spec, items)


def rescore_stored(
    store: Any, shards: Sequence[Shard], items: Mapping[str, Mapping[str, Item]], sandbox: str = "auto"
) -> int:
    """Re-score the stored outputs of `shards` (their generation fingerprints are stored) and record them.

    The new file and manifest entry carry the new scoring fingerprint and name the file they were
    re-scored from; the earlier file stays where it is. Returns the rows re-scored.
    """
    done = 0
    for shard in shards:
        entry = store.entry(shard.fingerprint)
        t0 = time.perf_counter()
        rows = store.read_shard(entry).to_pylist()
        fresh = rescore_rows(rows, with_sandbox(shard.task, sandbox), items[shard.task.id])
        table = pa.Table.from_pylist(fresh, schema=RECORD_SCHEMA)
        store.write_shard(shard, table, time.perf_counter() - t0, rescored_from=entry["path"])
        done += len(fresh)
    return done
