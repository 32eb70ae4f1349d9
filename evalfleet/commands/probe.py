"""`evalfleet probe MODEL_DIR`: throughput and peak memory of one checkpoint, printed as JSON."""

from __future__ import annotations

import argparse
import json

from evalfleet.checks.probe import make_settings, probe_checkpoint
from evalfleet.types import DTYPES

HELP = "measure a checkpoint's throughput and peak memory (kit-compatible or synchronized), print JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_dir", help="checkpoint directory (Hugging Face layout)")
    parser.add_argument(
        "--mode",
        choices=("kit", "default"),
        default="default",
        help="kit: the 2024 kit's unsynchronized timing (500 reps); default: synchronized prefill + decode",
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    for name, kind in (
        ("repetitions", int),
        ("warmup", int),
        ("input-tokens", int),
        ("output-tokens", int),
        ("batch-size", int),
    ):
        parser.add_argument(
            f"--{name}", type=kind, default=None, help="override the mode's default (evalfleet/checks/probe.py)"
        )
    parser.add_argument(
        "--dtype",
        choices=DTYPES,
        default=None,
        help="dtype to load and probe in (kit: float32; default mode: float32 unless given)",
    )


def main(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    keys = ("repetitions", "warmup", "input_tokens", "output_tokens", "batch_size", "dtype")
    overrides = {k: getattr(args, k) for k in keys if getattr(args, k) is not None}
    settings = make_settings(args.mode, overrides, source="command line")
    metrics, method = probe_checkpoint(args.model_dir, settings, device=args.device)
    print(
        json.dumps(
            {
                "model": args.model_dir,
                "device": args.device,
                "memory_method": method,
                "settings": asdict(settings),
                "metrics": metrics,
            },
            indent=2,
        )
    )
    return 0
