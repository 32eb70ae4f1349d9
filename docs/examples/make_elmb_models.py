"""Build the tiny checkpoints the ELMB example config (elmb.yaml) evaluates, beside this file:

    models/elmb-base     the organizers' base model (a tiny random-weight Llama, evalfleet.demo.tiny)
    models/alpha-dora    team alpha: a PEFT DoRA adapter on it (rank 16 on embeddings, attention, MLP, lm_head)
    models/beta-merged   team beta: another DoRA adapter, merged into a full checkpoint with peft

Run: python docs/examples/make_elmb_models.py [OUT_DIR]   (default: docs/examples/models)
Nothing is downloaded; a real submission is a DoRA adapter trained on the ELMB base model.
"""

from __future__ import annotations

import sys
from pathlib import Path

TARGETS = ["embed_tokens", "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"]


def dora_adapter(base: Path, out: Path, *, seed: int, rank: int = 16, scale: float = 0.05) -> Path:
    """A DoRA adapter on `base` with its weights perturbed (seeded), so it changes the model."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    peft_model = get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, use_dora=True, target_modules=TARGETS))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in peft_model.named_parameters():
            if "lora_" in name:
                param.add_(scale * torch.randn(param.shape, generator=gen))
    peft_model.save_pretrained(out)
    return out


def merged(base: Path, adapter: Path, out: Path) -> Path:
    """`adapter` merged into `base` (peft merge_and_unload), saved with the base's tokenizer."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32), adapter)
    model.merge_and_unload().save_pretrained(out)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)
    return out


def main(out: Path) -> None:
    from evalfleet.demo.tiny import build_tiny_model

    base = build_tiny_model(out / "elmb-base", family="llama", seed=7)
    dora_adapter(base, out / "alpha-dora", seed=1)
    merged(base, dora_adapter(base, out / "beta-dora", seed=2), out / "beta-merged")
    print(f"models written under {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "models")
