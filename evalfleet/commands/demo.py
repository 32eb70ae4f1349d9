"""`evalfleet demo [--out DIR]`: tiny models, sample items, a run on embedded Ray, the leaderboard — offline.

Three teams each submit a tiny random-weight model of three families (llama, qwen2, phi); they
answer the demo's own GSM8K, CommonsenseQA and CHID (ppl) sample items through the real task specs;
the records are scored with the edge-llm-2024 rules. Random weights score zero on the generation
tasks; CHID's log-likelihood choice differs per model, so the leaderboard ranks the teams.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from evalfleet import pipeline
from evalfleet.demo import TEAMS, write_config, write_data
from evalfleet.demo.tiny import FAMILIES, build_tiny_model
from evalfleet.spec.config import load_config

HELP = "Build tiny models and sample items, evaluate them on a local Ray, write the leaderboard (offline)."


def add_arguments(parser) -> None:
    parser.add_argument("--out", default="evalfleet-demo", help="output directory (default ./evalfleet-demo)")
    parser.add_argument("--workers", type=int, help="ModelWorker actors (default: one per 2 CPUs, at least 2)")


def build_models(models_dir: Path) -> dict[tuple[str, str], Path]:
    """One tiny checkpoint per (team, family), each with its own seed; reused when already built."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Writing model shards" bars per tiny model
    except ImportError:
        pass
    models = {}
    for t, team in enumerate(TEAMS):
        for f, family in enumerate(FAMILIES):
            path = models_dir / f"{team}-{family}"
            if not (path / "config.json").is_file():
                build_tiny_model(path, family=family, seed=10 * t + f)
            models[(team, family)] = path
    return models


def main(args) -> int:
    t0 = time.perf_counter()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    print(f"building tiny models in {out / 'models'} ...")
    models = build_models(out / "models")
    data_dir = write_data(out / "data")
    workers = args.workers or max(2, (os.cpu_count() or 2) // 2)
    config = write_config(out / "demo.yaml", models, data_dir, out / "results", workers=workers)
    print(f"config {config}; data {data_dir}")
    status = pipeline.run(load_config(config), dashboard=False)  # a lighter embedded Ray for laptops
    report = pipeline.score(str(out / "results"), str(out / "report"))
    print(f"demo finished in {time.perf_counter() - t0:.0f}s")
    if report:
        print(f"leaderboard: {report}")
    return status
