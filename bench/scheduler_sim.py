"""The scheduler at scale, by simulation: a full edge-llm-2024 final (100 teams × 3 models × 10 tasks)
planned by the real `plan.shards.make_shards` and scheduled by the real `run.schedule.Scheduler` on a simulated
clock (`evalfleet.run.sim`), on 8, 64 and 256 GPUs.

    python bench/scheduler_sim.py                      # writes bench/results/scheduler_sim.md
    python bench/scheduler_sim.py --gpus 64 --teams 20 # a smaller run, printed only

Workload. Items per task are the real benchmark sizes; prompt tokens per item are drawn around the
means measured on the real files (rendered prompts, chars / 4; CJK chars / 1.3), output tokens per
(model, item) around typical answer lengths, with a share of runaway answers that hit the task's
max_new_tokens (small compressed models ramble). Models: each team's Phi-2 (2.78B), Llama-3-8B (8.03B)
and Qwen2-7B (7.62B), compressed to 35–100 % of the parameters, 80 % float16 / 20 % float32.
The scheduler sees only plan/shards.py's estimates (prompt chars / 4 + max_new_tokens per item); the
simulated clock uses the cost model below.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalfleet.errors import EvalfleetError  # noqa: E402
from evalfleet.plan.shards import RunSettings, make_shards  # noqa: E402
from evalfleet.run.sim import Device, ModelSize, SimShard, hours, load_seconds, percent, shard_seconds, simulate  # noqa: E402
from evalfleet.spec.taskspec import load_task  # noqa: E402
from evalfleet.types import Item, Message, ModelRef  # noqa: E402


@dataclass(frozen=True)
class TaskLoad:
    """Token profile of one task."""

    items: int
    """Items in the official evaluation set."""
    prompt: float
    """Mean prompt tokens per item."""
    spread: float
    """Lognormal sigma of prompt tokens (0 = every prompt the same length)."""
    output: float
    """Mean output tokens of a normal answer."""
    runaway: float
    """Share of answers that run to max_new_tokens."""
    source: str
    """Where the numbers come from."""


TASKS = {
    "commonsenseqa": TaskLoad(1221, 552, 0.03, 60, 0.05, "dev split; 7-shot CoT prompts measured: 2209 chars"),
    "bbh": TaskLoad(6511, 804, 0.45, 110, 0.08, "27 tasks; 3-shot CoT prompts measured: 3215 chars (968-7793)"),
    "gsm8k": TaskLoad(1319, 1222, 0.03, 120, 0.08, "test; 4-shot CoT prompts measured: 4887 chars"),
    "longbench": TaskLoad(
        4750, 5000, 0.5, 90, 0.05, "21 subsets × ~200-500; contexts middle-truncated to the model's window"
    ),
    "humaneval": TaskLoad(164, 130, 0.4, 150, 0.15, "164 problems; prompts 451 chars"),
    "chid": TaskLoad(2204, 180, 0.1, 6, 0.05, "test_public 2002 + dev 202; prompts 224 CJK chars"),
    "truthfulqa": TaskLoad(817, 20, 0.4, 50, 0.05, "817 questions; prompts 59 chars"),
    "tydiqa": TaskLoad(5077, 220, 0.6, 20, 0.03, "GoldP dev, 9 languages; prompts 619 chars (282-1019)"),
    "math": TaskLoad(5000, 600, 0.2, 260, 0.15, "MATH test; 4-shot prompts, solutions ~520 chars"),
    "edge_probe": TaskLoad(1, 12_000, 0.0, 48, 0.0, "6 forwards of 2000 tokens + 48 decode steps, batch 1"),
}
FAMILIES = {"phi-2": 2.78e9, "llama-3-8b": 8.03e9, "qwen2-7b": 7.62e9}
A100 = Device(
    "A100-80GB (HF backend)",
    prefill_flops=312e12 * 0.45,
    bandwidth=2.0e12 * 0.7,
    step_overhead_s=0.020,
    load_bandwidth=2e9,
    init_s=20.0,
)


def task_spec(name: str):
    """The real task spec; a stand-in (gsm8k's, renamed, max 512 new tokens) while a task has no spec yet."""
    try:
        return load_task(name)
    except EvalfleetError:
        stand_in = load_task("gsm8k")
        return replace(stand_in, name=name, generation=replace(stand_in.generation, max_new_tokens=512))


def build(teams: int, seed: int, device: Device, shard_size: int = 64):
    """Plan the final with plan.shards.make_shards; return (SimShards, load seconds per model, facts)."""
    rng = np.random.default_rng(seed)
    rand = random.Random(seed)
    specs, items, prompt_tokens = [], {}, {}
    for name, load in TASKS.items():
        spec = task_spec(name)
        specs.append(spec)
        toks = (
            np.maximum(8, np.round(load.prompt * rng.lognormal(-(load.spread**2) / 2, load.spread, load.items))).astype(
                int
            )
            if load.spread
            else np.full(load.items, int(load.prompt))
        )
        ids = [f"{i:05d}" for i in range(load.items)]
        # plan.item_cost estimates prompt tokens as rendered chars / 4: give each item 4 chars per token.
        items[spec.id] = [Item(id=i, messages=(Message("user", "x" * (4 * int(t))),)) for i, t in zip(ids, toks)]
        prompt_tokens[spec.id] = dict(zip(ids, toks.tolist()))
    models, sizes = [], {}
    for t in range(teams):
        for family, params in FAMILIES.items():
            dtype = "float32" if rand.random() < 0.2 else "float16"
            ref = ModelRef(team=f"team{t:03d}", family=family, path=f"/ckpt/team{t:03d}/{family}", dtype=dtype)
            models.append(ref)
            sizes[ref.id] = ModelSize(params * rand.uniform(0.35, 1.0), 4.0 if dtype == "float32" else 2.0)
    t0 = time.perf_counter()
    planned = make_shards(
        specs,
        items,
        models,
        model_fps={m.id: (f"w-{m.id}", "") for m in models},
        data_fps={s.id: f"d-{s.id}" for s in specs},
        settings=RunSettings(shard_size=shard_size),
    )
    plan_s = time.perf_counter() - t0
    by_task = {s.id: (s, TASKS[s.name]) for s in specs}
    verbosity = {m.id: rng.lognormal(0.0, 0.3) for m in models}
    out = []
    for shard in planned:
        spec, load = by_task[shard.task.id]
        n = len(shard.item_ids)
        prompts = [prompt_tokens[spec.id][i] for i in shard.item_ids]
        normal = np.round(load.output * verbosity[shard.model.id] * rng.lognormal(-0.18, 0.6, n))
        outputs = np.where(rng.random(n) < load.runaway, spec.generation.max_new_tokens, normal)
        outputs = np.clip(outputs, 1, spec.generation.max_new_tokens).astype(int).tolist()
        batch = 1 if spec.kind == "measure" else 8
        seconds = shard_seconds(prompts, outputs, sizes[shard.model.id], device, batch_size=batch)
        out.append(SimShard(shard.fingerprint, shard.model.id, shard.cost, seconds))
    load_s = {m: load_seconds(size, device) for m, size in sizes.items()}
    facts = {
        "models": len(models),
        "tasks": len(specs),
        "shards": len(out),
        "items_per_model": sum(t.items for t in TASKS.values()),
        "plan_s": plan_s,
        "work_s": sum(s.seconds for s in out),
        "load_s": sum(load_s.values()),
        "max_shard_s": max(s.seconds for s in out),
        "max_load_s": max(load_s.values()),
    }
    return out, load_s, facts


def report(results, facts, args, device, elapsed, extra=()) -> str:
    lines = [
        "# Scheduler at scale (simulation)",
        "",
        f"Command: `python bench/scheduler_sim.py{'' if args.teams == 100 else f' --teams {args.teams}'}` "
        f"(seed {args.seed}, shard_size {args.shard_size}, in_flight {args.in_flight}); whole script {elapsed:.0f} s "
        "on this 2-core machine.",
        "",
        f"A full edge-llm-2024 final: {args.teams} teams × 3 models × {facts['tasks']} tasks = {facts['models']} "
        f"models, {facts['shards']:,} shards ({facts['items_per_model']:,} items per model), planned by the real "
        f"`plan.shards.make_shards` ({facts['plan_s']:.0f} s) and scheduled by the real "
        "`run.schedule.Scheduler`, driven the way "
        "`driver.run_shards` drives it, on a simulated clock (`evalfleet/run/sim.py`). The scheduler sees only "
        "plan/shards.py's cost estimates; run times come from the cost model.",
        "",
        f"Device model: {device.name}: prefill {device.prefill_flops / 1e12:.0f} TFLOP/s achieved (fp16; fp32 half), "
        f"decode step = weight bytes / {device.bandwidth / 1e12:.1f} TB/s + {device.step_overhead_s * 1000:.0f} ms, "
        f"batches of 8 length-sorted prompts run to their longest answer; model load = checkpoint bytes / "
        f"{device.load_bandwidth / 1e9:.0f} GB/s + {device.init_s:.0f} s init (an 8B fp16 model: "
        f"{16.06e9 / device.load_bandwidth + device.init_s:.0f} s).",
        f"Total GPU work: {hours(facts['work_s']):,.0f} GPU-hours of shards + {hours(facts['load_s']):.1f} GPU-hours "
        f"for one load per model; largest shard {facts['max_shard_s']:.0f} s, "
        f"largest load {facts['max_load_s']:.0f} s.",
        "",
        "Lower bound = max(total work / GPUs, largest shard + its model's load), total work counting one load per "
        "model. The per-model term (a model's own work + load) is *not* a bound here: when every model with pending "
        "work is held, the scheduler lets an idle worker load a held model and share its shards, so one model's work "
        "can run on several GPUs at once; only a single shard is indivisible.",
        "",
        "| GPUs | makespan (h) | lower bound (h) | makespan / bound | model loads | load time (% of GPU time) "
        "| GPU idle while a shard waits unassigned | GPU idle while a shard waits in another worker's queue "
        "| simulated in |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for gpus, r, secs in results:
        gpu_time = r.makespan * gpus
        lines.append(
            f"| {gpus} | {hours(r.makespan):.2f} | {hours(r.lower_bound):.2f} | {r.ratio:.3f} | {r.loads} "
            f"({r.loads - facts['models']} extra) | {percent(r.load_s, gpu_time):.2f} % | {r.idle_pending_s:.0f} GPU-s "
            f"| {r.idle_queued_s:.0f} GPU-s ({percent(r.idle_queued_s, gpu_time):.3f} %) | {secs:.1f} s |"
        )
    if extra:
        lines += [
            "",
            "Sensitivity at 64 GPUs (same shards):",
            "",
            "| variant | makespan (h) | lower bound (h) | makespan / bound | model loads | load time (% of GPU time) "
            "| idle while unassigned | idle while queued elsewhere |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for label, r in extra:
            lines.append(
                f"| {label} | {hours(r.makespan):.2f} | {hours(r.lower_bound):.2f} | {r.ratio:.4f} | {r.loads} "
                f"| {percent(r.load_s, r.makespan * 64):.2f} % | {r.idle_pending_s:.0f} GPU-s "
                f"| {r.idle_queued_s:.0f} GPU-s |"
            )
        lines += [
            "",
            "Reading the tables:",
            "",
            "- *Idle while a shard waits unassigned* is the scheduler's own fault; it is 0 by construction (an idle "
            "worker always takes pending work, loading another model if it must) and `tests/run/test_sim.py` "
            "checks that "
            "on random workloads.",
            "- *Idle while a shard waits in another worker's queue* is the price of the in-flight queue "
            "(`in_flight`): near the end a shard already sent to a busy worker cannot move to an idle one. "
            "`in_flight 1` removes it but leaves the device idle between shards for one driver round trip on a real "
            "cluster (not modelled here).",
            "- With few models per GPU (the small final) idle workers share big models' shards, paying extra loads: "
            "that is where the gap to the bound comes from.",
            "- Not modelled: vLLM's continuous batching (shorter, less skewed shards), HumanEval's sandboxed scoring "
            "on CPU tasks beside the GPUs, Ray's per-task overhead (milliseconds against shards of minutes), failures "
            "(worker loss is covered by `tests/run/test_sim.py`).",
        ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teams", type=int, default=100)
    p.add_argument("--gpus", type=int, nargs="*", default=[8, 64, 256])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shard-size", type=int, default=64)
    p.add_argument("--in-flight", type=int, default=2)
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "scheduler_sim.md"))
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    shards, load_s, facts = build(args.teams, args.seed, A100, args.shard_size)
    print(
        f"planned {facts['shards']} shards of {facts['models']} models in {time.perf_counter() - t0:.0f} s", flush=True
    )
    results = []
    for gpus in args.gpus:
        t1 = time.perf_counter()
        r = simulate(shards, load_s, gpus, in_flight=args.in_flight)
        results.append((gpus, r, time.perf_counter() - t1))
        print(
            f"{gpus:4d} GPUs: makespan {hours(r.makespan):.2f} h, bound {hours(r.lower_bound):.2f} h, "
            f"ratio {r.ratio:.3f}, loads {r.loads}, idle-pending {r.idle_pending_s:.0f} s, idle-queued "
            f"{r.idle_queued_s:.0f} s",
            flush=True,
        )
    extra = []
    if 64 in args.gpus:
        variants = [
            ("in_flight 1", load_s, 1),
            ("in_flight 4", load_s, 4),
            (
                "storage 10× slower (0.2 GB/s)",
                {m: 10 * (x - A100.init_s) + A100.init_s for m, x in load_s.items()},
                args.in_flight,
            ),
        ]
        for label, loads, in_flight in variants:
            r = simulate(shards, loads, 64, in_flight=in_flight)
            extra.append((label, r))
            print(f"64 GPUs, {label}: ratio {r.ratio:.4f}, loads {r.loads}", flush=True)
        small, small_loads, small_facts = build(5, args.seed, A100, args.shard_size)
        r = simulate(small, small_loads, 64, in_flight=args.in_flight)
        extra.append((f"a small final: 5 teams ({small_facts['models']} models) on 64 GPUs", r))
        print(f"64 GPUs, 5 teams: ratio {r.ratio:.4f}, loads {r.loads}", flush=True)
    text = report(results, facts, args, A100, time.perf_counter() - t0, extra)
    if args.teams == 100 and args.gpus == [8, 64, 256]:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
