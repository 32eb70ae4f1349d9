"""`evalfleet compact RESULTS`: fold each (task, model)'s shard files into one compacted file (one row group per
shard) and, on object-store roots, the per-line manifest objects (manifest.d/) into manifest.jsonl.

Crash-safe (evalfleet/store/compaction.py): the compacted files are written and read back before the
manifest is rewritten, and the shard files are deleted only after. Holds the root's lease: it refuses
while a run writes the root. Resume, verify, score and the explorer read compacted and uncompacted
shards alike; a later run adds shard files, which the next compaction folds in.
"""

from __future__ import annotations

import sys

from evalfleet.pipeline import compact_root
from evalfleet.store import lease
from evalfleet.store.results import ResultStore

HELP = "fold each (task, model)'s shard files into one compacted Parquet file (and manifest.d/ into the manifest)"


def add_arguments(parser) -> None:
    parser.add_argument("results", help="results root written by 'evalfleet run' (a path or s3://...)")


def main(args) -> int:
    store = ResultStore(args.results)
    lease.hold(store)  # no run writes the root while its files are rewritten
    return 1 if compact_root(store, sys.stdout).damaged else 0
