"""`evalfleet prompts TASK --data-dir DIR`: the exact prompt strings a model is given, one JSON line per item."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from evalfleet.benchmarks import get_module
from evalfleet.benchmarks.prompting import render
from evalfleet.errors import EvalfleetError
from evalfleet.spec.taskspec import load_task

HELP = "print a task's rendered prompts as JSON lines {item_id, prompt} (base or chat style)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("task", help="task id: name or name:variant (e.g. commonsenseqa:gen_c946f2)")
    parser.add_argument("--data-dir", required=True, type=Path, help="folder holding the official benchmark files")
    parser.add_argument(
        "--style",
        choices=("base", "chat"),
        default="base",
        help="base: rounds concatenated (HuggingFaceBaseModel); chat: the tokenizer's chat template",
    )
    parser.add_argument("--tokenizer", help="checkpoint or tokenizer directory (required for --style chat)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N items (sorted ids), N >= 1")


def main(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 1:
        raise EvalfleetError("must be >= 1", field="--limit")
    if args.style == "chat" and not args.tokenizer:
        raise EvalfleetError(
            "--style chat needs --tokenizer PATH (a directory with a chat template)", field="--tokenizer"
        )
    spec = load_task(args.task)
    items = sorted(get_module(spec).load_items(spec, args.data_dir), key=lambda item: item.id)
    if args.limit is not None:
        items = items[: args.limit]
    tokenizer = load_tokenizer(args.tokenizer) if args.tokenizer else None
    out = sys.stdout
    for item in items:
        row = {"item_id": item.id, "prompt": render(item.messages, args.style, tokenizer)}
        if item.choices:
            row["choices"] = list(item.choices)
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return 0


def load_tokenizer(path: str):
    """A transformers tokenizer from a local directory (no download)."""
    from transformers import AutoTokenizer

    if not Path(path).is_dir():
        raise EvalfleetError("not a directory", source=path, field="--tokenizer")
    return AutoTokenizer.from_pretrained(path, local_files_only=True)
