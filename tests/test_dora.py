"""ELMB DoRA submissions: a base checkpoint plus a PEFT DoRA adapter (rank 16 on embeddings, attention, MLP and
lm_head), loaded by the hf backend (merged with peft), must equal peft's own unmerged forward and differ from the base."""
from __future__ import annotations

from pathlib import Path

import pytest

from evalfleet.benchmarks.elmb import load_items
from evalfleet.taskspec import load_task
from evalfleet.types import ModelRef

FIXTURES = Path(__file__).resolve().parent.parent / "evalfleet" / "fixtures"
TARGETS = ["embed_tokens", "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"]


def build_dora_adapter(base: Path, out: Path, *, seed: int = 0, rank: int = 16) -> Path:
    """A DoRA adapter for `base` as the ELMB rules describe it, its weights perturbed so it is not the identity."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    config = LoraConfig(r=rank, lora_alpha=2 * rank, use_dora=True, target_modules=TARGETS, lora_dropout=0.0)
    peft_model = get_peft_model(model, config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.add_(0.05 * torch.randn(param.shape, generator=gen))
    peft_model.save_pretrained(out)
    return out


def reference_logliks(model, tokenizer, requests):
    """Sum of continuation-token log-probabilities, lm-eval 0.4.13's tokenization (the tokenizer's own special tokens), one request at a time (no batching)."""
    import torch

    out = []
    for context, continuation in requests:
        ctx = tokenizer(context)["input_ids"]
        whole = tokenizer(context + continuation)["input_ids"]
        cont = whole[len(ctx):]
        with torch.no_grad():
            logits = model(torch.tensor([whole])).logits[0].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        out.append(float(sum(logprobs[len(ctx) - 1 + i, t] for i, t in enumerate(cont))))
    return out


@pytest.fixture(scope="module")
def requests_():
    items = load_items(load_task("elmb_chatrag"), FIXTURES)[:3] + load_items(load_task("elmb_roleplay"), FIXTURES)[:2]
    return [(item.messages[0].content, choice) for item in items for choice in item.choices]


def test_dora_adapter_through_the_hf_backend(tiny_models, tmp_path, requests_):
    import torch
    from peft import PeftConfig, PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evalfleet.backends import load_backend

    base_path = tiny_models["llama"]
    adapter = build_dora_adapter(base_path, tmp_path / "dora")
    assert PeftConfig.from_pretrained(adapter).use_dora

    tokenizer = AutoTokenizer.from_pretrained(base_path)
    peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32), adapter)
    peft_model.eval()
    expected = reference_logliks(peft_model, tokenizer, requests_)
    base_expected = reference_logliks(AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32), tokenizer, requests_)

    improved = load_backend("hf", ModelRef(team="t", family="llama", path=str(base_path), adapter=str(adapter)))
    base = load_backend("hf", ModelRef(team="organizers", family="llama", path=str(base_path), role="base"))
    try:
        got = [ll.logprob for ll in improved.loglikelihood(requests_)]
        got_base = [ll.logprob for ll in base.loglikelihood(requests_)]
    finally:
        improved.close()
        base.close()
    assert got == pytest.approx(expected, abs=1e-4)
    assert got_base == pytest.approx(base_expected, abs=1e-4)
    # the adapter really changes the model
    assert max(abs(a - b) for a, b in zip(got, got_base)) > 1e-2
