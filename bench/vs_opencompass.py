"""evalfleet vs OpenCompass on the same items, tiny model and generation parameters (CPU).

Both sides: the same tiny random-weight checkpoint (evalfleet.demo.tiny, float32), greedy decoding,
the same max new tokens, batch size 8, base prompt style, the first N items of CommonsenseQA
(7-shot CoT, 734a22) or GSM8K (4-shot, 1d7fe4), one torch thread (OMP_NUM_THREADS=1 for every process of both sides).
- End to end, each side's own command in a fresh process, timed from outside:
  `evalfleet run CONFIG` (embedded Ray, one ModelWorker, Parquet records) and
  `opencompass CONFIG` (LocalRunner: an inference task, then an evaluation task).
- Model compute alone, in-process on the same prompts and batches: evalfleet's HFBackend.generate
  (with and without its prefix cache) and OpenCompass's HuggingFaceBaseModel.generate.
Then: are the prompts and predictions identical, and the accuracies equal?

    python bench/vs_opencompass.py [--task commonsenseqa|gsm8k] [--items 96] [--max-new-tokens 32] [--out FILE.md]
Needs .venv-parity (scripts/test-setup/20-parity-env.sh) and ../shared/data (or EVALFLEET_SHARED_DATA).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARITY_PY = ROOT / ".venv-parity" / "bin" / "python"
SHARED = Path(os.environ.get("EVALFLEET_SHARED_DATA", ROOT.parent / "shared" / "data"))
OC_TASKS = {  # evalfleet task -> (OpenCompass config module, its datasets variable, its dataset abbr)
    "commonsenseqa": (
        "opencompass.configs.datasets.commonsenseqa.commonsenseqa_7shot_cot_gen_734a22",
        "commonsenseqa_datasets",
        "commonsense_qa",
    ),
    "gsm8k": ("opencompass.configs.datasets.gsm8k.gsm8k_gen_1d7fe4", "gsm8k_datasets", "gsm8k"),
}


def tokenizer_copy_for_transformers4(model_dir: Path, dest: Path) -> str:
    """The tokenizer files, with the class transformers 4.x knows ('TokenizersBackend' is 5.x's name)."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    for f in model_dir.iterdir():
        if f.is_file() and not f.name.endswith((".safetensors", ".bin")):
            shutil.copy(f, dest / f.name)
    config = json.loads((dest / "tokenizer_config.json").read_text())
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config["model_input_names"] = ["input_ids", "attention_mask"]  # as transformers 5 uses it (no token_type_ids)
    (dest / "tokenizer_config.json").write_text(json.dumps(config))
    return str(dest)


def run_evalfleet(task: str, model_dir: Path, n: int, max_new: int, batch: int, work: Path, env: dict) -> dict:
    """`evalfleet run` end to end (fresh process), then the records' predictions and accuracy."""
    import pandas as pd
    import yaml

    config = work / "ef.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "edition": "edge-llm-2024",
                "track": "compression",
                "tasks": [task],
                "data_dir": str(SHARED),
                "submissions": [{"team": "bench", "models": [{"path": str(model_dir), "family": "llama"}]}],
                "results": str(work / "ef-results"),
                "workers": 1,
                "batch_size": batch,
                "limit": n,
                "max_new_tokens": max_new,
            }
        )
    )
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "evalfleet.cli", "run", str(config)], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"evalfleet run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    rows = pd.concat([pd.read_parquet(f) for f in (work / "ef-results" / "shards" / task).rglob("*.parquet")])
    rows = rows.sort_values("item_id")
    return {"wall_s": wall, "predictions": list(rows["output"]), "accuracy": 100.0 * rows["score"].mean()}


def evalfleet_compute(task: str, model_dir: Path, n: int, max_new: int, batch: int) -> dict:
    """HFBackend.generate in-process on the task's first n prompts, with and without the prefix cache."""
    from dataclasses import replace

    import torch

    from evalfleet.backends.hf import HFBackend
    from evalfleet.benchmarks import get_module
    from evalfleet.benchmarks.prompting import render
    from evalfleet.spec.taskspec import load_task
    from evalfleet.types import ModelRef

    torch.set_num_threads(1)
    spec = load_task(task)
    params = replace(spec.generation, max_new_tokens=max_new)
    items = get_module(spec).load_items(spec, SHARED)[:n]
    ref = ModelRef(team="bench", family="llama", path=str(model_dir))
    prompts = [render(i.messages, "base") for i in items]
    out = {"prompts": prompts}
    for name, cached in (("prefix", True), ("plain", False)):
        backend = HFBackend(ref, batch_size=batch, device="cpu", prefix_cache=cached)
        t0 = time.perf_counter()
        gens = [g.text for s in range(0, n, batch) for g in backend.generate(prompts[s : s + batch], params)]
        out[name] = {"generate_s": time.perf_counter() - t0, "predictions": gens}
    return out


OC_RUN_CONFIG = """
from mmengine.config import read_base
from opencompass.models import HuggingFaceBaseModel
with read_base():
    from {config} import {var} as _datasets
datasets = [dict(d, reader_cfg=dict(d['reader_cfg'], test_range='[0:{n}]'),
                 infer_cfg=dict(d['infer_cfg'], inferencer=dict(d['infer_cfg']['inferencer'], max_out_len={max_new})))
            for d in _datasets]
models = [dict(type=HuggingFaceBaseModel, abbr='tiny', path={model!r}, tokenizer_path={tok!r},
               model_kwargs=dict(torch_dtype='torch.float32'), max_out_len={max_new}, batch_size={batch},
               run_cfg=dict(num_gpus=0))]
"""

OC_GENERATE = """
import json, sys, time
sys.path.insert(0, {oc_dir!r})
from _common import setup_env
setup_env({{"shared_data": {shared!r}, "data_cache": {cache!r}}})
import render as R
from opencompass.models import HuggingFaceBaseModel
from _common import dataset_cfgs
import torch
torch.set_num_threads(1)
prompts = [R.to_text(None, "base", R.build_model("base", None).parse(p, "gen"))
           for _, _, p in R.oc_prompts(dataset_cfgs({config!r}, None)[0], "gen", {n})]
t0 = time.perf_counter()
model = HuggingFaceBaseModel(path={model!r}, tokenizer_path={tok!r}, model_kwargs=dict(torch_dtype='torch.float32'))
t1 = time.perf_counter()
out = []
for s in range(0, len(prompts), {batch}):
    out += model.generate(prompts[s:s + {batch}], max_out_len={max_new})
t2 = time.perf_counter()
print(json.dumps({{"load_s": t1 - t0, "generate_s": t2 - t1, "predictions": out}}))
"""


def run_opencompass(
    task: str, model_dir: Path, tok_dir: str, n: int, max_new: int, batch: int, work: Path, env: dict
) -> dict:
    oc_config, oc_var, oc_abbr = OC_TASKS[task]
    sys.path.insert(0, str(ROOT / "tests" / "parity" / "oc"))
    from _common import build_data_cache

    cache = build_data_cache(SHARED, work / "data-cache")
    env = {
        **env,
        "COMPASS_DATA_CACHE": str(cache),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }
    cfg = work / "oc_run.py"
    cfg.write_text(
        OC_RUN_CONFIG.format(
            config=oc_config, var=oc_var, n=n, max_new=max_new, model=str(model_dir), tok=tok_dir, batch=batch
        )
    )
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(PARITY_PY), "-m", "opencompass.cli.main", str(cfg), "-w", str(work / "oc-out")],
        env=env,
        capture_output=True,
        text=True,
        cwd=str(work),
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"OpenCompass runner failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    (pred_file,) = (work / "oc-out").glob(f"*/predictions/tiny/{oc_abbr}.json")
    preds = json.loads(pred_file.read_text())
    (res_file,) = (work / "oc-out").glob(f"*/results/tiny/{oc_abbr}.json")
    result = json.loads(res_file.read_text())
    script = OC_GENERATE.format(
        oc_dir=str(ROOT / "tests" / "parity" / "oc"),
        shared=str(SHARED),
        cache=str(cache),
        config=oc_config,
        n=n,
        model=str(model_dir),
        tok=tok_dir,
        batch=batch,
        max_new=max_new,
    )
    gen = subprocess.run([str(PARITY_PY), "-c", script], env=env, capture_output=True, text=True, cwd=str(work))
    if gen.returncode != 0:
        raise RuntimeError(f"OpenCompass in-process generation failed:\n{gen.stderr[-3000:]}")
    inproc = json.loads(gen.stdout.strip().splitlines()[-1])
    return {
        "wall_s": wall,
        "predictions": [preds[str(i)]["prediction"] for i in range(len(preds))],
        "prompts": [preds[str(i)]["origin_prompt"] for i in range(len(preds))],
        "accuracy": result["accuracy"],
        "inproc": inproc,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=96)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--task", choices=sorted(OC_TASKS), default="commonsenseqa")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "vs_opencompass.md")
    args = ap.parse_args()
    task = args.task
    from evalfleet.demo.tiny import build_tiny_model

    n, batch, max_new = args.items, args.batch_size, args.max_new_tokens
    work = Path(tempfile.mkdtemp(prefix="vs-oc-"))
    # A 4,096-token context: the tiny tokenizer spends ~1,550 tokens on a CommonsenseQA prompt and ~3,300 on a
    # GSM8K one, so neither side truncates (OpenCompass would cut from the left at max_seq_len, evalfleet too).
    model_dir = build_tiny_model(work / "tiny-llama", family="llama", seed=0, max_positions=4096)
    tok_dir = tokenizer_copy_for_transformers4(model_dir, work / "tok-tf4")
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env["OMP_NUM_THREADS"] = "1"
    ours = run_evalfleet(task, model_dir, n, max_new, batch, work, env)
    theirs = run_opencompass(task, model_dir, tok_dir, n, max_new, batch, work, env)
    compute = evalfleet_compute(task, model_dir, n, max_new, batch)
    oc_gen = theirs["inproc"]

    def same(a: list, b: list) -> int:
        return sum(x == y for x, y in zip(a, b))

    cmd = f"python bench/vs_opencompass.py --task {task} --items {n} --max-new-tokens {max_new} --batch-size {batch}"
    load = os.getloadavg()[0]
    run_row = "`evalfleet run CONFIG` end to end (embedded Ray start, one ModelWorker, records in Parquet, scores)"
    speedup_cached = oc_gen["generate_s"] / compute["prefix"]["generate_s"]
    speedup_plain = oc_gen["generate_s"] / compute["plain"]["generate_s"]
    same_prompts = same(compute["prompts"], theirs["prompts"])
    same_run = same(ours["predictions"], theirs["predictions"])
    report = textwrap.dedent(f"""\
    # evalfleet vs OpenCompass 0.5.4 on {task} (same items, same tiny model, same generation parameters)

    Command: `{cmd}` — all rows measured one after the other in this one invocation (CPU, {os.cpu_count()} cores,
    load average {load:.1f} at the end).

    Setup: task `{task}` (OpenCompass `{OC_TASKS[task][0].rsplit(".", 1)[1]}`), first {n} items, base prompt
    style, tiny random-weight llama checkpoint from `evalfleet.demo.tiny` (float32, 4,096-token context so no prompt is
    truncated on either side), greedy, max new tokens
    {max_new}, batch size {batch}, one torch thread in every process of both sides (OMP_NUM_THREADS=1).

    | | wall time (s) |
    |---|---|
    | {run_row} | {ours["wall_s"]:.1f} |
    | `opencompass CONFIG` end to end (LocalRunner: inference task, evaluation task) | {theirs["wall_s"]:.1f} |
    | evalfleet `HFBackend.generate` in-process, prefix cache on (default) | {compute["prefix"]["generate_s"]:.1f} |
    | evalfleet `HFBackend.generate` in-process, prefix cache off | {compute["plain"]["generate_s"]:.1f} |
    | OpenCompass `HuggingFaceBaseModel.generate` in-process, same prompts and batches | {oc_gen["generate_s"]:.1f} |

    - Speed-up, end to end (opencompass / evalfleet run): **{theirs["wall_s"] / ours["wall_s"]:.1f}x**.
    - Speed-up, model compute (OpenCompass generate / evalfleet generate): **{speedup_cached:.1f}x**
      with the prefix cache, {speedup_plain:.2f}x without it.
    - Prompts identical: {same_prompts}/{n} (OpenCompass's recorded `origin_prompt` vs evalfleet's).
    - Predictions identical to OpenCompass's runner: {same_run}/{n} (`evalfleet run` records),
      {same(compute["prefix"]["predictions"], theirs["predictions"])}/{n} (in-process, prefix cache),
      {same(compute["plain"]["predictions"], theirs["predictions"])}/{n} (in-process, no prefix cache);
      OpenCompass's in-process generate vs its runner: {same(oc_gen["predictions"], theirs["predictions"])}/{n}.
    - Accuracy: evalfleet {ours["accuracy"]:.2f}, OpenCompass {theirs["accuracy"]:.2f}.
    """)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
