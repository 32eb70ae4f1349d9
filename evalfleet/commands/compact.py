"""`evalfleet compact RESULTS`: fold the manifest lines an object-store root keeps as one object each
(RESULTS/manifest.d/) into manifest.jsonl, so that reading the manifest is one request again.

Crash-safe: the new manifest.jsonl is written (atomically) before any folded object is deleted; a crash in
between lists those shards twice, which reads the same. Folding shard files into per-(task, model) files is
not done yet (docs/scale.md)."""

from __future__ import annotations

from evalfleet.store.results import ResultStore

HELP = "fold an object-store root's per-line manifest objects (manifest.d/) into manifest.jsonl"


def add_arguments(parser) -> None:
    parser.add_argument("results", help="results root written by 'evalfleet run' (a path or s3://...)")


def main(args) -> int:
    store = ResultStore(args.results)
    folded = store.fold_manifest()
    print(f"folded {folded} manifest objects into {store.path('manifest.jsonl')} ({len(store.manifest())} shards)")
    return 0
