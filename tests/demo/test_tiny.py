"""Tiny checkpoints load back through transformers with their chat template and differ by seed."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer


def test_tiny_models_round_trip(tiny_models):
    assert set(tiny_models) == {"llama", "qwen2", "phi"}
    outputs = []
    for family, path in tiny_models.items():
        tok = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path)
        assert model.config.model_type == family
        ids = tok("Question: 3 + 4 =", return_tensors="pt")
        with torch.no_grad():
            outputs.append(model(**ids).logits[0, -1])
        chat = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
        assert chat == "<|user|>\nhi<|end|>\n<|assistant|>\n"
    assert not torch.allclose(outputs[0][:10], outputs[1][:10])
