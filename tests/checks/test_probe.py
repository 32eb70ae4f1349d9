"""The throughput/memory probe on tiny real models: kit formulas, internal consistency, peak memory."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from evalfleet.benchmarks import get_module
from evalfleet.checks.probe import (
    PeakMemory,
    cast_model,
    corpus_texts,
    kit_memory_mb,
    kit_throughput,
    make_settings,
    probe_inputs,
    run_kit,
    run_probe,
)
from evalfleet.errors import EvalfleetError
from evalfleet.spec.taskspec import load_task


@pytest.fixture(scope="module")
def llama(tiny_models):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_models["llama"]).eval(), AutoTokenizer.from_pretrained(
        tiny_models["llama"]
    )


def test_settings_per_mode_and_errors():
    kit = make_settings("kit")
    assert (kit.input_tokens, kit.batch_size, kit.repetitions, kit.warmup, kit.dtype) == (2000, 1, 500, 0, "float32")
    default = make_settings("default", {"repetitions": 3})
    assert (default.repetitions, default.warmup, default.dtype) == (3, 1, None)
    with pytest.raises(EvalfleetError, match="field 'reps'"):
        make_settings("kit", {"reps": 3})
    with pytest.raises(EvalfleetError, match="field 'repetitions': must be int >= 1"):
        make_settings("kit", {"repetitions": 0})
    with pytest.raises(EvalfleetError, match="field 'mode'"):
        make_settings("fast")


def test_corpus_covers_2000_token_inputs(llama):
    _, tok = llama
    texts = corpus_texts()
    assert len(texts) == 8 and len(set(texts)) == 8
    # Every word is at least one token for word-piece / BPE tokenizers, so >= 2000 words => >= 2000 tokens.
    assert all(len(t.split()) >= 2000 for t in texts)
    inputs = probe_inputs(tok, make_settings("kit", {"batch_size": 3}))
    assert inputs["input_ids"].shape == (3, 2000) and bool(inputs["attention_mask"].all())
    assert inputs["input_ids"][1].tolist() == tok(texts[1])["input_ids"][:2000]


def test_kit_formulas_on_recorded_times(llama):
    model, tok = llama
    settings = make_settings("kit", {"repetitions": 4, "input_tokens": 128, "batch_size": 2})
    run = run_kit(model, probe_inputs(tok, settings), settings, PeakMemory("cpu"))
    assert len(run.times) == 4 and all(t > 0 for t in run.times)
    assert kit_throughput(list(run.times), 2) == pytest.approx(2 / (sum(run.times) / 4), rel=1e-12)
    assert kit_memory_mb(list(run.peaks)) == pytest.approx(sum(run.peaks) / 4 / 1024 / 1024, rel=1e-12)
    # The kit's numbers for made-up recordings, computed by hand.
    assert kit_throughput([0.5, 0.25, 0.25], 1) == pytest.approx(3.0)
    assert kit_memory_mb([2**20, 3 * 2**20]) == pytest.approx(2.0)


def test_kit_mode_metrics(llama):
    model, tok = llama
    metrics = run_probe(model, tok, make_settings("kit", {"repetitions": 3, "input_tokens": 256}))
    assert metrics["throughput"] > 0 and metrics["memory_mb"] > 0
    assert metrics["throughput"] == pytest.approx(1 / metrics["mean_forward_seconds"], rel=1e-9)
    assert metrics["seconds"] == pytest.approx(3 * metrics["mean_forward_seconds"], rel=1e-9)


def test_default_mode_numbers_are_consistent(llama):
    model, tok = llama
    settings = make_settings("default", {"repetitions": 3, "input_tokens": 200, "output_tokens": 8, "batch_size": 2})
    m = run_probe(model, tok, settings)
    for key in (
        "throughput",
        "prefill_tokens_per_s",
        "decode_tokens_per_s",
        "prefill_seconds",
        "decode_seconds",
        "seconds",
        "memory_mb",
    ):
        assert m[key] > 0, key
    assert m["prefill_tokens_per_s"] * m["prefill_seconds"] == pytest.approx(400, rel=1e-9)
    assert m["decode_tokens_per_s"] * m["decode_seconds"] == pytest.approx(16, rel=1e-9)
    assert m["throughput"] * m["prefill_seconds"] == pytest.approx(2, rel=1e-9)
    # Total wall time covers the three timed runs (medians are each within it).
    assert m["seconds"] >= m["prefill_seconds"] + m["decode_seconds"]
    weights_mb = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
    assert m["memory_mb"] > weights_mb


def test_cpu_peak_memory_follows_an_allocation():
    memory = PeakMemory("cpu")
    memory.reset()
    before = memory.peak_bytes()
    block = bytearray(200 * 2**20)  # zero-filled: every page touched
    grown = memory.peak_bytes()
    del block
    memory.reset()
    after = memory.peak_bytes()
    assert memory.method == "VmHWM"
    assert grown - before >= 190 * 2**20
    assert after < grown - 150 * 2**20


def test_cast_model_round_trip(tiny_models):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_models["qwen2"], dtype=torch.float16)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with cast_model(model, "float32"):
        assert next(model.parameters()).dtype == torch.float32
    assert all(torch.equal(before[k], v) and v.dtype == torch.float16 for k, v in model.state_dict().items())


class _Holder:
    """What a worker's backend exposes to `measure`: its loaded model and tokenizer."""

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer


def test_edge_probe_task(llama):
    model, tok = llama
    for task_id, mode in (("edge_probe", "default"), ("edge_probe:kit", "kit")):
        spec = load_task(task_id)
        assert spec.kind == "measure" and spec.metric == "throughput"
        (item,) = get_module(spec).load_items(spec, None)
        assert item.id == mode and item.meta["mode"] == mode
    spec = load_task("edge_probe")
    module = get_module(spec)
    (item,) = module.load_items(spec, None)
    item = type(item)(
        id=item.id, messages=item.messages, meta={**item.meta, "repetitions": 1, "input_tokens": 64, "output_tokens": 4}
    )
    metrics = module.measure(_Holder(model, tok), item, spec)
    assert metrics["throughput"] > 0 and metrics["memory_mb"] > 0 and metrics["decode_tokens_per_s"] > 0
    rows = pd.DataFrame(
        {
            "item_id": ["default", "default"],
            "metrics": [{"throughput": 2.0, "memory_mb": 100.0}, {"throughput": 4.0, "memory_mb": 300.0}],
        }
    )
    assert module.aggregate(rows, spec) == {"throughput": 3.0, "memory_mb": 200.0}
    with pytest.raises(EvalfleetError, match="needs a transformers model"):
        module.measure(object(), item, spec)


def test_cli_prints_json(tiny_models, capsys):
    from evalfleet.cli import main

    argv = ["probe", str(tiny_models["phi"]), "--repetitions", "2", "--input-tokens", "64", "--output-tokens", "4"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["settings"]["mode"] == "default" and out["memory_method"] == "VmHWM"
    assert out["metrics"]["prefill_tokens"] == 64 and out["metrics"]["decode_tokens_per_s"] > 0
