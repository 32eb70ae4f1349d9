"""`evalfleet run` (vllm backend, default settings) vs a raw vLLM script, end to end, side by side.

One invocation: builds a random-weight llama (`evalfleet.demo.tiny`, sizes by flags), renders the
first --items GSM8K prompts exactly as evalfleet does, then times
  raw      a fresh Python process: `vllm.LLM(...)` with the backend's engine settings, one
           `LLM.generate` over every prompt (tokenized by the checkpoint's tokenizer, as evalfleet does),
           the outputs decoded and cut at the task's stop strings;
  evalfleet `evalfleet run` on a config naming the same model and items (backend vllm, every other setting
           at its default), joining a Ray cluster the bench started with `ray start --head`;
both as wall time of the whole process (start, engine load, generation, writing), and compares the outputs
item by item. The ratio is raw seconds / evalfleet seconds (1.0: as fast as raw vLLM).

    python bench/engine.py --items 256 --max-new-tokens 48 --out bench/results/engine.md

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
RAY_ENV = {**os.environ, "RAY_AUTH_MODE": "disabled"}
"""The bench's own Ray head listens on 127.0.0.1 only; no token between its processes."""


def raw_main(spec_path: str) -> None:
    """The raw vLLM process: read the job, generate, write outputs and the generate-only seconds."""
    job = json.loads(Path(spec_path).read_text())
    from evalfleet.backends.vllm import CPU_ENV, on_cpu, set_batch_invariance

    cpu = on_cpu()
    if cpu:
        for key, value in CPU_ENV.items():
            os.environ.setdefault(key, value)
    set_batch_invariance(True)  # the backend's default: the same kernels on both sides
    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    tok = AutoTokenizer.from_pretrained(job["model"])
    kwargs = dict(model=job["model"], dtype="float32" if cpu else job["dtype"], enforce_eager=cpu, seed=0)
    llm = LLM(enable_prefix_caching=True, max_logprobs=1, **kwargs)
    t0 = time.perf_counter()
    ids = [tok(p, add_special_tokens=True)["input_ids"] for p in job["prompts"]]
    params = SamplingParams(temperature=0.0, max_tokens=job["max_new_tokens"], stop=job["stop"] or None)
    outs = llm.generate([TokensPrompt(prompt_token_ids=i) for i in ids], params, use_tqdm=False)
    texts = [tok.decode(o.outputs[0].token_ids, skip_special_tokens=True) for o in outs]
    seconds = time.perf_counter() - t0
    other = reshuffled(llm, ids, params) if job["check_invariance"] else None
    held = None if other is None else sum(o.outputs[0].token_ids == t.outputs[0].token_ids for o, t in zip(outs, other))
    Path(job["out"]).write_text(json.dumps({"texts": texts, "generate_s": seconds, "invariant": held}))


def reshuffled(llm, ids: list, params) -> list:
    """The same prompts again in another batch composition (reversed, in calls of 37): outputs in prompt order."""
    from vllm.inputs import TokensPrompt

    order = list(range(len(ids)))[::-1]
    outs: dict[int, object] = {}
    for start in range(0, len(order), 37):
        chunk = order[start : start + 37]
        got = llm.generate([TokensPrompt(prompt_token_ids=ids[i]) for i in chunk], params, use_tqdm=False)
        outs.update(zip(chunk, got))
    return [outs[i] for i in range(len(ids))]


def build_model(base: Path, args) -> Path:
    from evalfleet.demo.tiny import build_tiny_model

    sizes = dict(hidden=args.hidden, heads=args.heads, layers=args.layers, max_positions=4096)
    return build_tiny_model(base / "llama", family="llama", seed=0, dtype=args.dtype, **sizes)


def write_config(base: Path, model: Path, args) -> Path:
    import yaml

    cfg = {
        "edition": "edge-llm-2024",
        "track": "compression",
        "submissions": [{"team": "bench", "models": [{"path": str(model), "family": "llama", "dtype": args.dtype}]}],
        "tasks": ["gsm8k"],
        "data_dir": str(args.data_dir),
        "results": str(base / "results"),
        "limit": args.items,
        "max_new_tokens": args.max_new_tokens,
        "backend": "vllm",
    }
    path = base / "run.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def planned_prompts(config: Path):
    """(item ids, rendered prompts, stop strings) of the run's shards, as evalfleet's workers render them."""
    from transformers import AutoTokenizer

    from evalfleet.benchmarks.prompting import render
    from evalfleet.plan.prepare import prepare
    from evalfleet.run.evaluate import item_params
    from evalfleet.spec.config import load_config
    from evalfleet.store.results import ResultStore

    cfg = load_config(config)
    prep = prepare(cfg, ResultStore(str(Path(cfg.results).parent / "plan-only")))
    tok = AutoTokenizer.from_pretrained(prep.shards[0].model.path)
    ids, prompts, stops = [], [], set()
    for shard in prep.shards:
        for item_id in shard.item_ids:
            item = prep.items[shard.task.id][item_id]
            ids.append(item_id)
            prompts.append(render(item.messages, shard.model.prompt_style, tok))
            stops.add(tuple(item_params(item, shard.task.generation).stop))
    assert len(stops) == 1, stops
    return ids, prompts, list(stops.pop())


def timed(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def run_raw(base: Path, model: Path, prompts, stop, args) -> tuple[float, dict]:
    job = base / "raw.json"
    job.write_text(
        json.dumps(
            {
                "model": str(model),
                "prompts": prompts,
                "stop": stop,
                "max_new_tokens": args.max_new_tokens,
                "dtype": args.dtype,
                "check_invariance": args.check_invariance,
                "out": str(base / "raw-out.json"),
            }
        )
    )
    seconds = timed([sys.executable, __file__, "--raw", str(job)], dict(os.environ))
    return seconds, json.loads((base / "raw-out.json").read_text())


def run_evalfleet(base: Path, config: Path, address: str) -> tuple[float, dict[str, str]]:
    from evalfleet.store.results import ResultStore

    env = dict(RAY_ENV, RAY_ADDRESS=address)
    seconds = timed([sys.executable, "-m", "evalfleet", "run", str(config)], env)
    records = ResultStore(str(base / "results")).read_records()
    return seconds, dict(zip(records["item_id"], records["output"]))


def ray_head(cpus: int, base: Path) -> tuple[subprocess.Popen, str]:
    """`ray start --head --block` on a free port, in its own session (stopped by ending that process)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = ["ray", "start", "--head", "--block", f"--port={port}", f"--num-cpus={cpus}", "--disable-usage-stats"]
    cmd += ["--include-dashboard=false", f"--temp-dir={base / 'ray'}", "--node-ip-address=127.0.0.1"]
    log = open(base / "ray-head.log", "w")  # noqa: SIM115 (open while the head runs)
    proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=RAY_ENV, start_new_session=True)
    address = f"127.0.0.1:{port}"
    deadline = time.time() + 180
    status = ["ray", "status", f"--address={address}"]
    while subprocess.run(status, capture_output=True, env=RAY_ENV).returncode != 0:
        if time.time() > deadline or proc.poll() is not None:
            raise RuntimeError("ray start --head did not come up")
        time.sleep(1)
    return proc, address


def stop_head(proc: subprocess.Popen) -> None:
    """End the bench's own `ray start --block` (it stops the processes it started)."""
    proc.terminate()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)


def report(args, figures: dict) -> str:
    f = figures
    cmd = " ".join(["python bench/engine.py"] + sys.argv[1:])
    return f"""# Engine-fed vLLM workers: `evalfleet run` vs raw vLLM, end to end

`{cmd}` (bench/engine.py): {f["items"]} GSM8K prompts (the task's real few-shot prompt), a random-weight
llama (hidden {args.hidden}, {args.layers} layers, {args.heads} heads, {args.dtype}), {args.max_new_tokens} new
tokens, greedy; {f["device"]}. Both sides are whole processes timed from start to exit (engine load
included): raw = one `LLM.generate` over every prompt; evalfleet = `evalfleet run` (backend vllm, default
settings: shard_size 64, the engine-fed queue depth) joining a Ray started by the bench with `ray start --head`.

| | seconds (whole process) | items / s |
|---|---:|---:|
| raw vLLM | {f["raw_s"]:.1f} (generate alone: {f["raw_generate_s"]:.1f}) | {f["items"] / f["raw_s"]:.2f} |
| evalfleet run | {f["evalfleet_s"]:.1f} | {f["items"] / f["evalfleet_s"]:.2f} |

Speed of evalfleet relative to raw vLLM: **{f["ratio"]:.2f}** (goal >= 0.9). Identical outputs:
**{f["identical"]} / {f["items"]}**. Batch invariance: {f["batch_invariance"]}{held(f)}.
"""


def held(f: dict) -> str:
    """The raw side's invariance check, when it ran: identical outputs in another batch composition."""
    if f.get("invariant") is None:
        return ""
    return f"; raw vLLM again in another batch composition: {f['invariant']} / {f['items']} identical"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--raw", help=argparse.SUPPRESS)
    parser.add_argument("--items", type=int, default=256)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--dtype", default="float32", help="checkpoint dtype (vLLM computes in float32 on CPU)")
    parser.add_argument(
        "--check-invariance", action="store_true", help="raw side: generate again in another batch composition"
    )
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="the Ray head's CPUs")
    data = os.environ.get("EVALFLEET_DATA", ROOT.parent / "shared" / "data")
    parser.add_argument("--data-dir", type=Path, default=Path(data), help="benchmark data (env EVALFLEET_DATA)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.raw:
        raw_main(args.raw)
        return
    figures = compare(args)
    text = report(args, figures)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


def compare(args) -> dict:
    from evalfleet.plan.environment import batch_invariance_support, device_class

    with tempfile.TemporaryDirectory(prefix="evalfleet-bench-engine-") as tmp:
        base = Path(tmp)
        model = build_model(base, args)
        config = write_config(base, model, args)
        ids, prompts, stop = planned_prompts(config)
        raw_s, raw = run_raw(base, model, prompts, stop, args)
        head, address = ray_head(args.cpus, base)
        try:
            ef_s, outputs = run_evalfleet(base, config, address)
        finally:
            stop_head(head)
    from evalfleet.backends.hf import cut_at_stop

    raw_texts = [cut_at_stop(t, stop) for t in raw["texts"]]
    identical = sum(outputs.get(i) == t for i, t in zip(ids, raw_texts))
    support = batch_invariance_support("vllm")
    return {
        "items": len(ids),
        "raw_s": raw_s,
        "raw_generate_s": raw["generate_s"],
        "evalfleet_s": ef_s,
        "ratio": raw_s / ef_s,
        "identical": identical,
        "device": device_class(),
        "batch_invariance": "on (VLLM_BATCH_INVARIANT=1)" if support == "available" else support,
        "invariant": raw.get("invariant"),
    }


if __name__ == "__main__":
    main()
