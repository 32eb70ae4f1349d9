"""`evalfleet export-site RESULTS --out DIR`: the explorer's pages as a static folder to publish.

The leaderboard (with coverage), the report with linked cells, a page per task; item lists and item pages
only for tasks whose items may be published — a holdout task's items never, unless the edition's rule file
lists the task in `publish_items` (docs/explorer.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from evalfleet.explore.site import export_site

HELP = "write the explorer's pages for a results root as a static folder (holdout items withheld)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", help="results root written by `evalfleet run`")
    parser.add_argument("--out", required=True, help="folder to write the site into")
    parser.add_argument("--data-dir", default=None, help="official data directory (default: run.yaml's data_dir)")


def main(args: argparse.Namespace) -> int:
    summary = export_site(args.results, Path(args.out), data_dir=args.data_dir)
    print(f"site: {summary.out / 'index.html'} ({summary.pages} pages)")
    print(f"items published: {', '.join(summary.published) or 'none'}")
    if summary.withheld:
        print(f"items withheld (holdout or not in publish_items): {', '.join(summary.withheld)}")
    return 0
