"""`evalfleet plan CONFIG [--results DIR] [--json]`: what a run would compute and why, without Ray or a model.

Per task and model: items, shards stored / to run / to re-score, the reasons, prompt tokens counted
with each model's own tokenizer, the new-token budget, and an estimated compute time.
"""

from __future__ import annotations

import json

from evalfleet import pipeline
from evalfleet.plan.dryrun import ShardPlan
from evalfleet.spec.config import load_config

HELP = "Dry run: which shards a run would compute, re-score or reuse, and why (no Ray, no model load)."


def add_arguments(parser) -> None:
    parser.add_argument("config", help="run config YAML (see docs/config.md)")
    parser.add_argument("--results", help="results root (overrides the config's 'results')")
    parser.add_argument("--json", action="store_true", help="one JSON object per shard, then {'summary': ...}")
    parser.add_argument(
        "--tokens-per-second",
        type=float,
        help="throughput for the time estimate (default: measured from the shards already stored)",
    )
    parser.add_argument("--no-tokens", action="store_true", help="skip counting prompt tokens (no tokenizer load)")


def main(args) -> int:
    cfg = load_config(args.config, results=args.results)
    report = pipeline.plan(cfg, tokens_per_second=args.tokens_per_second, count_tokens=not args.no_tokens)
    if args.json:
        for p in report.shards:
            print(json.dumps(p.row(), sort_keys=True))
        print(json.dumps({"summary": report.summary}, sort_keys=True))
    else:
        print(table(report.shards))
        print()
        print(text_summary(report.summary))
    for line in report.problems:
        print(f"skipped: {line}")
    return 0


def table(plans: list[ShardPlan]) -> str:
    """One line per (task, model): counts, reasons, tokens."""
    groups: dict[tuple[str, str], list[ShardPlan]] = {}
    for p in plans:
        groups.setdefault((p.task, p.model), []).append(p)
    head = ("task", "model", "items", "shards", "stored", "run", "rescore", "why", "prompt tok", "new tok")
    rows = [head]
    for (task, model), ps in sorted(groups.items()):
        why = sorted({r for p in ps for r in p.reasons})
        rows.append(
            (
                task,
                model,
                str(sum(p.n_items for p in ps)),
                str(len(ps)),
                str(sum(p.status == "stored" for p in ps)),
                str(sum(p.status == "run" for p in ps)),
                str(sum(p.status == "rescore" for p in ps)),
                ",".join(why) or "-",
                f"{sum(p.prompt_tokens for p in ps if p.status == 'run'):,}",
                f"{sum(p.max_new_tokens for p in ps if p.status == 'run'):,}",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def text_summary(s: dict) -> str:
    """The summary object as a few lines for a terminal."""
    eta = s["estimated_seconds"]
    rate = s["tokens_per_second"]
    timing = (
        f"estimated compute {duration(eta)} at {rate:,.0f} tokens/s"
        if eta is not None
        else "no throughput known: pass --tokens-per-second, or run some shards first"
    )
    return (
        f"{s['reasons']}\n"
        f"to run: {s['items_to_run']:,} items, {s['prompt_tokens']:,} prompt tokens, "
        f"up to {s['max_new_tokens']:,} new tokens; {timing}"
    )


def duration(seconds: float) -> str:
    """'45 s', '12.5 min' or '3.2 h'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"
