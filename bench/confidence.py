"""Leaderboard confidence at final scale: what the paired bootstrap adds to `evalfleet score`.

A synthetic edge-llm-2024 compression final shaped like the store's records (`ResultStore.read_records()`:
one row per model and item, `metrics` a dict per row, real subset names of BBH, LongBench, TyDiQA and
CHID): 100 teams x 3 models x the 9 scored tasks at their real sizes (27,063 items per model) plus
one edge_probe row per model, i.e. 300 models and 8.1 million rows. Per-model skill, per-item
difficulty and 0-1 / graded metrics are drawn from a fixed seed. Rows of equal metrics share one dict
object (the bench builds faster and smaller; reading a dict costs the same).

Timed: task_scores (the existing path, for scale), compute_scoreboard, and compute_confidence with the
rule file's settings (1,000 replicates): per-task item matrices, count matrices, matrix products, every
view's replicates, place intervals and paired tests — the time `evalfleet score` adds.

    python bench/confidence.py --repeat 2 --out bench/results/confidence.md   # full final: 100 teams, 1000 replicates
    python bench/confidence.py --teams 10 --replicates 200
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalfleet import benchmarks  # noqa: E402
from evalfleet.scoring.confidence import compute_confidence  # noqa: E402
from evalfleet.scoring.confidence_rules import ConfidenceSettings, parse_confidence  # noqa: E402
from evalfleet.scoring.rules import parse_rules  # noqa: E402
from evalfleet.scoring.scoreboard import compute_scoreboard  # noqa: E402
from evalfleet.scoring.task_scores import task_scores  # noqa: E402
from evalfleet.spec.edition import load_edition  # noqa: E402
from evalfleet.spec.taskspec import load_task  # noqa: E402

FAMILIES = ("phi-2", "llama-3-8b", "qwen2-7b")
SIZES = {
    "commonsenseqa": 1221,
    "bbh": 6511,
    "gsm8k": 1319,
    "longbench": 4750,
    "humaneval": 164,
    "chid": 2204,
    "truthfulqa": 817,
    "tydiqa": 5077,
    "math": 5000,
}


def subsets(task: str, n: int) -> list[str]:
    """The task's real subset names, spread over its n items ('' for tasks without subsets)."""
    spec = load_task(task)
    module = benchmarks.get_module(spec)
    names = {
        "bbh": lambda: list(module.subtasks(spec)),
        "longbench": lambda: list(spec.options["subsets"]),
        "tydiqa": lambda: [module.language_of(f) for f in spec.data_files],
        "chid": lambda: list(spec.options["splits"]),
    }.get(task, lambda: [""])()
    return [names[i * len(names) // n] for i in range(n)]


def metric_dicts(task: str, values: np.ndarray) -> list[dict]:
    """One metrics dict per row; values in [0, 1] (0-1 tasks: exactly 0 or 1), quantized to 1/20."""
    levels = np.round(values * 20).astype(int)
    shared = {}
    for level in range(21):
        v = level / 20
        shared[level] = {
            "longbench": {"score": v},
            "tydiqa": {"exact_match": float(v == 1.0), "f1": v},
            "truthfulqa": {"counted": 1.0, "bleu_max": 30 * v, "bleu_diff": v - 0.5, "bleu_acc": float(v >= 0.5)},
            "humaneval": {"pass@1": v},
        }.get(task, {"accuracy": v})
    return [shared[k] for k in levels.tolist()]


def synthetic_records(teams: int, seed: int = 0) -> pd.DataFrame:
    """Store-shaped records of a compression final: `teams` x 3 models x the scored tasks + probe rows."""
    rng = np.random.default_rng(seed)
    models = [(f"team{t:03d}", fam) for t in range(teams) for fam in FAMILIES]
    skill = rng.normal(0, 1, len(models)) + np.repeat(rng.normal(0, 0.7, teams), 3)
    frames = []
    for task, n in SIZES.items():
        difficulty = rng.normal(0, 1.5, n)
        p = 1 / (1 + np.exp(-(skill[:, None] - difficulty[None, :])))
        graded = task in ("longbench", "tydiqa")
        values = (np.clip(p + rng.normal(0, 0.15, p.shape), 0, 1) if graded else (rng.random(p.shape) < p)).ravel()
        ids = [f"{i:05d}" for i in range(n)]
        frames.append(
            pd.DataFrame(
                {
                    "task": task,
                    "model": np.repeat([f"{t}--{f}" for t, f in models], n),
                    "team": np.repeat([t for t, _ in models], n),
                    "family": np.repeat([f for _, f in models], n),
                    "role": "submission",
                    "item_id": ids * len(models),
                    "subset": subsets(task, n) * len(models),
                    "sample": 0,
                    "metrics": metric_dicts(task, values.astype(float)),
                    "error": None,
                }
            )
        )
    probe = pd.DataFrame(
        {
            "task": "edge_probe",
            "model": [f"{t}--{f}" for t, f in models],
            "team": [t for t, _ in models],
            "family": [f for _, f in models],
            "role": "submission",
            "item_id": "0",
            "subset": "",
            "sample": 0,
            "metrics": [{"throughput": float(x), "memory_mb": 6000.0} for x in rng.uniform(5, 50, len(models))],
            "error": None,
        }
    )
    return pd.concat(frames + [probe], ignore_index=True)


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teams", type=int, default=100, help="teams of three models (default 100 = 300 models)")
    parser.add_argument("--replicates", type=int, default=None, help="default: the rule file's (1000)")
    parser.add_argument("--repeat", type=int, default=1, help="time compute_confidence this many times")
    parser.add_argument("--out", default=None, help="also write the result as a BENCH.md section to this file")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]

    rules = parse_rules(load_edition("edge-llm-2024"))
    settings = parse_confidence(rules.edition)
    if args.replicates:
        settings = ConfidenceSettings(replicates=args.replicates, seed=settings.seed, level=settings.level)

    t0 = time.perf_counter()
    records = synthetic_records(args.teams)
    t1 = time.perf_counter()
    scores = task_scores(records)
    t2 = time.perf_counter()
    board = compute_scoreboard(scores, rules, track="compression", source="synthetic")
    t3 = time.perf_counter()
    runs = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        conf = compute_confidence(board, rules, records, settings)
        runs.append(time.perf_counter() - start)

    models = records["model"].nunique()
    items = sum(SIZES.values())
    lines = [
        f"final: {args.teams} teams, {models} models, {items:,} items per model, {len(records):,} rows",
        f"settings: {settings.describe()}",
        f"build synthetic records: {t1 - t0:.1f} s",
        f"task_scores (existing path): {t2 - t1:.1f} s",
        f"compute_scoreboard: {t3 - t2:.1f} s",
        f"compute_confidence: {', '.join(f'{r:.1f}' for r in runs)} s (the time --no-confidence saves)",
        f"rows: confidence {len(conf.intervals):,}, rank-stability {len(conf.stability):,}, "
        f"paired tests {len(conf.tests):,}; peak RSS {peak_gb():.1f} GB",
    ]
    print("\n".join(lines + [f"note: {n}" for n in conf.notes]))
    top = conf.stability[conf.stability["view"] == "rank-points"].head(5)
    print(top.to_string(index=False))
    if args.out:
        text = section(args, settings, models, len(records), t2 - t1, runs, load_before)
        Path(args.out).write_text(text, encoding="utf-8")


def section(args, settings, models: int, rows: int, scoring: float, runs: list[float], load_before: float) -> str:
    """The result as a BENCH.md section."""
    command = "python bench/confidence.py" + (f" --teams {args.teams}" if args.teams != 100 else "")
    command += (f" --replicates {args.replicates}" if args.replicates else "") + f" --repeat {args.repeat}"
    verdict = ("met" if max(runs) <= 60 else "not met") if models >= 300 and settings.replicates >= 1000 else "n/a"
    return f"""# Leaderboard confidence: paired bootstrap at final scale

Command: `{command} --out bench/results/confidence.md`

Setup: a synthetic edge-llm-2024 compression final shaped like the store's records: {args.teams} teams x 3
models = {models} models, the 9 scored tasks at their real sizes ({sum(SIZES.values()):,} items per model;
BBH, LongBench, TyDiQA and CHID with their real subsets, so they are resampled per subset), one probe
row per model; {rows:,} rows. `compute_confidence` with {settings.replicates:,} replicates
(seed {settings.seed}): item matrices, count matrices and products for every task, the averaged-three-model and
rank-points views over every replicate, place intervals, separability and the exact paired tests.
Load average {load_before:.1f} (1 min) at the start, {os.getloadavg()[0]:.1f} at the end: the 2-core
machine was shared with other jobs.

| step | seconds |
|---|---:|
| task_scores from the records (existing path, for scale) | {scoring:.1f} |
| **compute_confidence (what `evalfleet score` adds)** | **{", ".join(f"{r:.1f}" for r in runs)}** |

Goal (a 300-model final with 1,000 replicates adds <= 60 s on this machine): {verdict}.
Peak resident memory of the whole process, records included: {peak_gb():.1f} GB. Rows with equal
metrics share one dict object here (reading a dict costs the same as in the store's records).
`evalfleet score --no-confidence` skips it.
"""


if __name__ == "__main__":
    main()
