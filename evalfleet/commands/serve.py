"""`evalfleet serve RESULTS [--port 8300] [--host 127.0.0.1] [--token T]`: the results explorer in the browser.

A read-only web app over a results root (local or object store): the live leaderboard with coverage and
run progress while `evalfleet run` writes, drill-down from any cell to the exact prompt and output of an
item, two models compared item by item (docs/explorer.md). It binds 127.0.0.1 unless told otherwise;
any other host needs a token (`--token` or EVALFLEET_SERVE_TOKEN), checked on every request.
"""

from __future__ import annotations

import argparse
import os

import uvicorn

from evalfleet.errors import EvalfleetError
from evalfleet.explore.app import create_app
from evalfleet.explore.auth import needs_token
from evalfleet.explore.live import LiveResults

HELP = "browse a results root: live leaderboard, coverage, run progress, items and comparisons (read-only)"
TOKEN_ENV = "EVALFLEET_SERVE_TOKEN"
"""Environment variable holding the access token (instead of --token, which other users can see in ps)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", help="results root (a directory or a pyarrow filesystem URI such as s3://...)")
    parser.add_argument("--port", type=int, default=8300, help="port to listen on (default 8300)")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; any other needs a token)"
    )
    parser.add_argument("--token", default=None, help=f"access token (default: ${TOKEN_ENV})")
    parser.add_argument("--data-dir", default=None, help="official data directory (default: run.yaml's data_dir)")


def main(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get(TOKEN_ENV) or None
    if needs_token(args.host) and not token:
        raise EvalfleetError(
            f"binding {args.host} exposes the results beyond this machine: give --token or set {TOKEN_ENV}",
            field="--host",
        )
    app = create_app(args.results, token=token, live=LiveResults(args.results, data_dir=args.data_dir))
    shown = f"[{args.host}]" if ":" in args.host else args.host
    hint = " (open it once with ?token=TOKEN)" if token else ""
    print(f"evalfleet serve: {args.results} at http://{shown}:{args.port}/{hint}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0
