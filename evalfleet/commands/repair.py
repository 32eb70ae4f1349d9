"""`evalfleet repair RESULTS`: rebuild the manifest from the shard files; damaged files go to quarantine/.

For a manifest damaged beyond a torn last line (which every command already skips and the next
run removes), for shard files whose manifest lines were lost, and to set every damaged shard file
aside at once so the next `evalfleet run` recomputes exactly those shards. Every file is read in
full (page checksums verified). The old manifest is kept under RESULTS/quarantine/; nothing is
deleted. Do not run it while a run is writing to RESULTS.
"""

from __future__ import annotations

from evalfleet.store import lease
from evalfleet.store.repair import RepairReport, repair
from evalfleet.store.results import ResultStore

HELP = "Rebuild RESULTS/manifest.jsonl from the shard files (damaged files and the old manifest kept aside)."


def add_arguments(parser) -> None:
    parser.add_argument("results", help="results root written by 'evalfleet run'")
    parser.add_argument("--dry-run", action="store_true", help="report what would change, change nothing")
    parser.add_argument("--max-report", type=int, default=20, help="files printed per kind (default 20)")


def print_report(report: RepairReport, store: ResultStore, *, dry_run: bool, limit: int) -> None:
    """What repair found and did, one line per file (up to `limit` per kind), then a summary."""
    verb = "would be" if dry_run else "was"
    sections = (
        ("malformed manifest line", [f"line {n}" for n in report.bad_lines]),
        ("quarantined (damaged)", [p.describe() for p in report.quarantined]),
        ("dropped (no intact file; the next run recomputes it)", [p.describe() for p in report.dropped]),
        ("adopted (file without a manifest line)", list(report.adopted)),
        ("identity from the path layout (older file)", list(report.from_layout)),
        ("temporary file moved to quarantine", list(report.temporaries)),
    )
    for title, lines in sections:
        for line in lines[:limit]:
            print(f"{title}: {line}")
        if len(lines) > limit:
            print(f"{title}: ... and {len(lines) - limit} more")
    if report.old_manifest:
        print(f"the old manifest {verb} kept at {store.path(report.old_manifest)}")
    print(
        f"manifest {'would list' if dry_run else 'rebuilt:'} {report.listed} shards (the old one listed "
        f"{report.before}); {len(report.quarantined)} damaged files {verb} quarantined, "
        f"{len(report.dropped)} shards to recompute"
    )


def main(args) -> int:
    store = ResultStore(args.results)
    if not args.dry_run:
        lease.hold(store)  # no run writes the root while its manifest is rebuilt
    report = repair(store, dry_run=args.dry_run)
    print_report(report, store, dry_run=args.dry_run, limit=args.max_report)
    return 0
