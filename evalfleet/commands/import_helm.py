"""`evalfleet import-helm TABLE.json --results DIR [--track NAME]`: HELM 2023 metric tables into a results store."""

from __future__ import annotations

import argparse

from evalfleet.ingest.helm import import_helm, track_from_name

HELP = "import a HELM 2023 metric table (JSON list of [submission, {metric: value}]) into a results store"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("table", help="HELM table, e.g. A100_full_ranks_final_round.json")
    parser.add_argument("--results", required=True, help="results root to import into (local path or filesystem URI)")
    parser.add_argument("--track", default="", help="hardware track (A100 or 4090); default: named in the file name")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    written = import_helm(args.table, args.results, track=args.track)
    track = args.track or track_from_name(Path(args.table)) or "(none)"
    print(
        f"{args.table}: {len(written)} team shards written to {args.results} "
        f"(edition llm-efficiency-2023, track {track})"
    )
    print(f"score them with: evalfleet score {args.results}")
    return 0
