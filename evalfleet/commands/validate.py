"""`evalfleet validate CONFIG`: check every submitted model against the edition's rules, no weights loaded."""

from __future__ import annotations

import argparse

from evalfleet.checks.validate import validate_model
from evalfleet.spec.config import load_config
from evalfleet.spec.edition import load_edition

HELP = "check every submission (dtypes, quantization, tokenizer, architecture, integrity, size) before running"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="run config (finals.yaml)")
    parser.add_argument(
        "--bin-policy",
        choices=("reject", "warn"),
        default="reject",
        help="pytorch .bin weights cannot be dtype-checked without unpickling: reject them (default) or warn",
    )
    parser.add_argument(
        "--context-tokens", type=int, default=2048, help="context length of the memory estimate (default 2048)"
    )


def main(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    edition = load_edition(cfg.edition)
    allowed = edition.allowed_dtypes
    limit_mb = memory_limit_mb(edition.views)
    print(f"edition {cfg.edition}: allowed weight dtypes {', '.join(allowed)}")
    failed = 0
    for problem in cfg.problems:
        print(f"FAIL {problem}")
        failed += 1
    for ref in cfg.submissions:
        verdict = validate_model(
            ref, allowed_dtypes=allowed, bin_policy=args.bin_policy, context_tokens=args.context_tokens
        )
        print(verdict.line(), flush=True)
        if limit_mb and verdict.est_memory_bytes and verdict.est_memory_bytes / 2**20 > limit_mb:
            print(
                f"       - warning: estimated memory {verdict.est_memory_bytes / 2**20:.0f} MB exceeds the edition's "
                f"{limit_mb:g} MB gate (the probe's measurement decides)"
            )
        failed += not verdict.ok
    total = len(cfg.submissions) + len(cfg.problems)
    print(f"{total - failed}/{total} models pass")
    return 1 if failed else 0


def memory_limit_mb(views) -> float | None:
    """The rank-points view's memory gate (edge-llm-2024: 12288 MB), if the edition has one."""
    gate = ((views or {}).get("rank-points") or {}).get("memory") or {}
    value = gate.get("limit_mb") if isinstance(gate, dict) else None
    return float(value) if isinstance(value, (int, float)) else None
