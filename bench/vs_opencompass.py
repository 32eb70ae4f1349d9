"""evalfleet vs OpenCompass on the same items, tiny model and generation parameters (CPU).

Both sides: the same tiny random-weight checkpoint (evalfleet.tiny, float32), greedy decoding,
the same max new tokens, batch size 8, base prompt style, the first N items of a task.
- evalfleet: in-process HFBackend + evaluate_shard (model load, generation, extraction, scoring).
- OpenCompass 0.5.4 (in .venv-parity): its own CLI runner (`opencompass CONFIG -w DIR`: LocalRunner,
  infer then eval tasks) with HuggingFaceBaseModel; wall time of the whole command, and, for the
  model compute alone, HuggingFaceBaseModel.generate timed in-process on the same prompts.
Then: are the prompts and predictions identical, and the accuracies equal?

    python bench/vs_opencompass.py [--items 48] [--max-new-tokens 32] [--out bench/results/vs_opencompass.md]
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
TASK, OC_CONFIG, OC_ABBR = "commonsenseqa", "opencompass.configs.datasets.commonsenseqa.commonsenseqa_7shot_cot_gen_734a22", "commonsense_qa"


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


def run_evalfleet(model_dir: Path, n: int, max_new: int, batch: int) -> dict:
    from dataclasses import replace

    from evalfleet.backends.hf import HFBackend
    from evalfleet.benchmarks import get_module
    from evalfleet.evaluate import evaluate_shard
    from evalfleet.prompting import render
    from evalfleet.taskspec import load_task
    from evalfleet.types import ModelRef

    t0 = time.perf_counter()
    spec = load_task(TASK)
    spec = replace(spec, generation=replace(spec.generation, max_new_tokens=max_new))
    items = get_module(spec).load_items(spec, SHARED)[:n]
    ref = ModelRef(team="bench", family="llama", path=str(model_dir))
    backend = HFBackend(ref, batch_size=batch, device="cpu")
    t1 = time.perf_counter()
    table = evaluate_shard(backend, spec, items, ref, backend_name="hf", batch_size=batch).to_pylist()
    t2 = time.perf_counter()
    return {"wall_s": t2 - t0, "generate_s": t2 - t1, "predictions": [r["output"] for r in table],
            "prompts": [render(i.messages, "base") for i in items],
            "accuracy": 100.0 * sum(r["score"] for r in table) / len(table)}


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


def run_opencompass(model_dir: Path, tok_dir: str, n: int, max_new: int, batch: int, work: Path) -> dict:
    sys.path.insert(0, str(ROOT / "tests" / "parity" / "oc"))
    from _common import build_data_cache

    cache = build_data_cache(SHARED, work / "data-cache")
    env = {**os.environ, "COMPASS_DATA_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    cfg = work / "oc_run.py"
    var = "commonsenseqa_datasets"
    cfg.write_text(OC_RUN_CONFIG.format(config=OC_CONFIG, var=var, n=n, max_new=max_new, model=str(model_dir), tok=tok_dir, batch=batch))
    t0 = time.perf_counter()
    proc = subprocess.run([str(PARITY_PY), "-m", "opencompass.cli.main", str(cfg), "-w", str(work / "oc-out")],
                          env=env, capture_output=True, text=True, cwd=str(work))
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"OpenCompass runner failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    (pred_file,) = (work / "oc-out").glob(f"*/predictions/tiny/{OC_ABBR}.json")
    preds = json.loads(pred_file.read_text())
    (res_file,) = (work / "oc-out").glob(f"*/results/tiny/{OC_ABBR}.json")
    result = json.loads(res_file.read_text())
    script = OC_GENERATE.format(oc_dir=str(ROOT / "tests" / "parity" / "oc"), shared=str(SHARED), cache=str(cache),
                                config=OC_CONFIG, n=n, model=str(model_dir), tok=tok_dir, batch=batch, max_new=max_new)
    gen = subprocess.run([str(PARITY_PY), "-c", script], env=env, capture_output=True, text=True, cwd=str(work))
    if gen.returncode != 0:
        raise RuntimeError(f"OpenCompass in-process generation failed:\n{gen.stderr[-3000:]}")
    inproc = json.loads(gen.stdout.strip().splitlines()[-1])
    return {"wall_s": wall, "predictions": [preds[str(i)]["prediction"] for i in range(len(preds))],
            "prompts": [preds[str(i)]["origin_prompt"] for i in range(len(preds))], "accuracy": result["accuracy"],
            "inproc": inproc}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=48)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "vs_opencompass.md")
    args = ap.parse_args()
    from evalfleet.tiny import build_tiny_model

    work = Path(tempfile.mkdtemp(prefix="vs-oc-"))
    model_dir = build_tiny_model(work / "tiny-llama", family="llama", seed=0)
    tok_dir = tokenizer_copy_for_transformers4(model_dir, work / "tok-tf4")
    ours = run_evalfleet(model_dir, args.items, args.max_new_tokens, args.batch_size)
    theirs = run_opencompass(model_dir, tok_dir, args.items, args.max_new_tokens, args.batch_size, work)
    same_prompts = sum(a == b for a, b in zip(ours["prompts"], theirs["prompts"]))
    same_preds = sum(a == b for a, b in zip(ours["predictions"], theirs["predictions"]))
    same_inproc = sum(a == b for a, b in zip(ours["predictions"], theirs["inproc"]["predictions"]))
    n = args.items
    cmd = f"python bench/vs_opencompass.py --items {n} --max-new-tokens {args.max_new_tokens} --batch-size {args.batch_size}"
    report = textwrap.dedent(f"""\
    # evalfleet vs OpenCompass 0.5.4 (same items, same tiny model, same generation parameters)

    Command: `{cmd}` (CPU; this machine was shared with other jobs, so absolute times vary run to run —
    the two sides ran one after the other in one invocation).

    Setup: task `{TASK}` (OpenCompass `commonsenseqa_7shot_cot_gen_734a22`), first {n} items, base prompt
    style, tiny random-weight llama checkpoint from `evalfleet.tiny` (float32), greedy, max new tokens
    {args.max_new_tokens}, batch size {args.batch_size}, device CPU.

    | | wall time (s) | model compute (s) |
    |---|---|---|
    | evalfleet (in-process `HFBackend` + `evaluate_shard`: load items, load model, generate, extract, score) | {ours['wall_s']:.1f} | {ours['generate_s']:.1f} (generate + score) |
    | OpenCompass runner (`opencompass CONFIG`: LocalRunner, infer task, eval task) | {theirs['wall_s']:.1f} | — |
    | OpenCompass `HuggingFaceBaseModel.generate` in-process, same prompts and batches | {theirs['inproc']['load_s'] + theirs['inproc']['generate_s']:.1f} | {theirs['inproc']['generate_s']:.1f} (generate) |

    - Speed-up, end to end (OpenCompass runner / evalfleet): **{theirs['wall_s'] / ours['wall_s']:.1f}x**.
    - Speed-up, model compute (OpenCompass generate / evalfleet generate+score): {theirs['inproc']['generate_s'] / ours['generate_s']:.2f}x.
    - Prompts identical: {same_prompts}/{n} (OpenCompass's recorded `origin_prompt` vs `evalfleet prompts`).
    - Predictions identical: {same_preds}/{n} vs the runner's; {same_inproc}/{n} vs in-process generate.
    - Accuracy: evalfleet {ours['accuracy']:.2f}, OpenCompass {theirs['accuracy']:.2f}.
    """)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
