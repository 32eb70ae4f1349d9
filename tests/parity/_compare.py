"""Helpers the item-by-item parity tests share (LongBench, CHID, TruthfulQA, TyDiQA).

    report(task, what, compared, mismatches)  -> prints one row of the parity table (pytest -s)
    tiny_outputs(model_dir, prompts, max_new_tokens, keep_last=None) -> greedy outputs of a tiny checkpoint

The venv run itself is `oc.items(request)` (conftest.py).
"""

from __future__ import annotations


def report(task, what, compared, mismatches):
    """One row of the parity table (shown with pytest -s)."""
    print(f"PARITY | {task} | {what} | {compared} compared | {mismatches} mismatches")


def tiny_outputs(model_dir, prompts, max_new_tokens, keep_last=None):
    """Greedy outputs of a tiny real checkpoint (transformers, CPU); prompts cut to their last `keep_last` tokens
    if given."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    outs = []
    for prompt in prompts:
        ids = tok(prompt, return_tensors="pt")["input_ids"]
        if keep_last is not None:
            ids = ids[:, -keep_last:]
        with torch.no_grad():
            gen = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
        outs.append(tok.decode(gen[0, ids.shape[1] :], skip_special_tokens=True))
    return outs
