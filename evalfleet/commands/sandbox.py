"""`evalfleet sandbox FILE.py`: run one program in the sandbox and print its JSON verdict."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evalfleet.errors import EvalfleetError
from evalfleet.sandbox.runner import run_program

HELP = "run one Python program in the code sandbox and print the verdict as JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the Python program to run")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="wall-clock seconds before the program is killed (default 10)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="refuse to run without Linux namespaces (bubblewrap or unshare)"
    )


def main(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if args.timeout <= 0:
        raise EvalfleetError("must be > 0", field="--timeout")
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalfleetError(f"cannot read the program ({exc})", source=str(path)) from exc
    verdict = run_program(source, timeout=args.timeout, strict=args.strict)
    print(json.dumps(verdict.to_dict()))
    return 0
