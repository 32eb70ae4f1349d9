"""`evalfleet leaderboard --edition NAME --table FILE [--table FILE ...] [--out DIR]`: score tables evaluated
elsewhere."""

from __future__ import annotations

import argparse
from pathlib import Path

from evalfleet import pipeline

HELP = (
    "compute an edition's leaderboard from per-task tables "
    "(HELM JSON, kit results CSVs, team/model/task/score CSV or Parquet)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--edition", required=True, help="edition rule file in scoring/, e.g. edge-llm-2024")
    parser.add_argument(
        "--table",
        action="append",
        required=True,
        metavar="FILE",
        help="a table file or a directory of them; repeat for several (e.g. one kit CSV per team)",
    )
    parser.add_argument(
        "--track", default="", help="edition track (default: named in the file names, else the rule file's default)"
    )
    parser.add_argument("--out", default="leaderboard", help="report directory (default: ./leaderboard)")


def main(args: argparse.Namespace) -> int:
    html = pipeline.leaderboard(args.edition, args.table, args.out, track=args.track)
    print(f"report: {html}")
    print(f"leaderboard: {Path(args.out) / 'leaderboard.md'}")
    return 0
