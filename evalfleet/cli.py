"""`evalfleet VERB ...`: one module per verb in evalfleet/commands, imported only when used.

Each command module defines `HELP` (one line), `add_arguments(parser)` and `main(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from evalfleet.errors import EvalfleetError

COMMANDS = {
    "plan": "plan",
    "run": "run",
    "score": "score",
    "verify": "verify",
    "demo": "demo",
    "prompts": "prompts",
    "judge": "judge",
    "sandbox": "sandbox",
    "leaderboard": "leaderboard",
    "validate": "validate",
    "probe": "probe",
    "import-helm": "import_helm",
    "repair": "repair",
    "serve": "serve",
    "export-site": "export_site",
    "compact": "compact",
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evalfleet", description="Score LLM competition finals on Ray.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = argv[0] if argv and argv[0] in COMMANDS else None
    for verb, module_name in COMMANDS.items():
        if wanted and verb != wanted:
            sub.add_parser(verb)
            continue
        try:
            module = importlib.import_module(f"evalfleet.commands.{module_name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"evalfleet.commands.{module_name}":
                raise
            continue
        p = sub.add_parser(verb, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_main=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    if not hasattr(args, "_main"):
        print(f"evalfleet: command '{args.command}' is not available in this installation", file=sys.stderr)
        return 2
    try:
        return int(args._main(args) or 0)
    except EvalfleetError as exc:
        print(f"evalfleet: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
