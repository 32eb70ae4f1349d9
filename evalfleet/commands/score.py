"""`evalfleet score RESULTS [--out DIR] [--no-confidence]`: the edition's leaderboard from recorded results alone,
with intervals, place intervals and paired tests from a paired bootstrap over items (docs/confidence.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from evalfleet import pipeline

HELP = "compute the edition's views from a results root and write CSV, Parquet, Markdown and HTML reports"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", help="results root written by `evalfleet run` (holds run.yaml and shards/)")
    parser.add_argument("--out", default=None, help="report directory (default: RESULTS/report)")
    parser.add_argument(
        "--no-confidence",
        action="store_true",
        help="skip the paired bootstrap (no confidence.csv, rank-stability.csv, paired-tests.csv)",
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="score without shards whose files are missing or damaged (the report's notes name them)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="worker processes scoring (task, model) groups in a large store (default: one per core, at most 4)",
    )


def main(args: argparse.Namespace) -> int:
    out = args.out or str(Path(args.results) / "report")
    html = pipeline.score(
        args.results, out, allow_missing=args.allow_missing, confidence=not args.no_confidence, jobs=args.jobs
    )
    print(f"report: {html}")
    print(f"leaderboard: {Path(out) / 'leaderboard.md'}")
    return 0
