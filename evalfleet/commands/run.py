"""`evalfleet run CONFIG.yaml`: plan the shards, evaluate them on Ray, record them in the results root.

No --address and no RAY_ADDRESS: an embedded local Ray. Otherwise it joins that cluster; under
`ray job submit --working-dir . -- evalfleet run CONFIG.yaml` it joins the job's cluster.
A submission with a problem (config field, missing or broken checkpoint) is reported and
skipped; every valid one is evaluated. The exit status is 1 when anything was skipped or failed.
"""

from __future__ import annotations

from dataclasses import replace

from evalfleet import pipeline
from evalfleet.spec.config import load_config

HELP = "Evaluate a run config's submissions on Ray and record every answer (resumable)."


def add_arguments(parser) -> None:
    parser.add_argument("config", help="run config YAML (see docs/config.md)")
    parser.add_argument("--results", help="results root (overrides the config's 'results')")
    parser.add_argument("--address", help="Ray cluster to join (default: RAY_ADDRESS, else an embedded local Ray)")
    parser.add_argument("--workers", type=int, help="ModelWorker actors (overrides the config's 'workers')")


def main(args) -> int:
    cfg = load_config(args.config, results=args.results)
    if args.workers:
        cfg = replace(cfg, workers=args.workers)
    return pipeline.run(cfg, address=args.address)
