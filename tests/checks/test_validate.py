"""Submission checks on hand-made good and bad checkpoints: each bad one rejected for the right reason."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
import yaml
from safetensors.torch import load_file, save_file

from evalfleet.checks.validate import estimate_memory_bytes, read_safetensors_header, validate_model
from evalfleet.types import ModelRef

RULE_2024 = ("float16", "float32")
ALL = ("float32", "float16", "bfloat16")


@pytest.fixture()
def ckpt(tiny_models, tmp_path):
    """A private copy of the tiny llama checkpoint to damage."""
    return shutil.copytree(tiny_models["llama"], tmp_path / "ckpt")


def check(path, allowed=RULE_2024, **kw):
    return validate_model(ModelRef("team", "llama", str(path), **kw), allowed_dtypes=allowed)


def rewrite_weights(path, fn):
    weights = load_file(path / "model.safetensors")
    save_file(fn(weights), path / "model.safetensors", metadata={"format": "pt"})


def edit_config(path, **changes):
    config = json.loads((path / "config.json").read_text())
    config.update(changes)
    (path / "config.json").write_text(json.dumps(config))


def test_good_fp32_checkpoints_pass(tiny_models):
    from transformers import AutoModelForCausalLM

    for family, path in tiny_models.items():
        verdict = check(path)
        assert verdict.ok, verdict.problems
        assert verdict.dtypes == ("float32",)
        n = AutoModelForCausalLM.from_pretrained(path).num_parameters()
        assert verdict.n_params == n, family
        assert verdict.line().startswith(f"OK   team--llama: {n / 1e6:.2f}M params")


def test_good_fp16_checkpoint_passes(ckpt):
    rewrite_weights(ckpt, lambda w: {k: v.half() for k, v in w.items()})
    verdict = check(ckpt, dtype="float16")
    assert verdict.ok and verdict.dtypes == ("float16",)


def test_int8_tensor_rejected_by_name(ckpt):
    rewrite_weights(
        ckpt,
        lambda w: {**w, "model.layers.0.mlp.down_proj.weight": w["model.layers.0.mlp.down_proj.weight"].to(torch.int8)},
    )
    verdict = check(ckpt)
    assert not verdict.ok
    assert verdict.problems == (
        "int8 tensors are not allowed (allowed: float16, float32): "
        "'model.layers.0.mlp.down_proj.weight' (model.safetensors)",
    )
    assert verdict.dtypes == ("float32", "int8")


def test_gptq_style_int32_and_uint8_rejected(ckpt):
    def quantize(w):
        w = dict(w)
        w["model.layers.1.self_attn.q_proj.qweight"] = torch.zeros(8, 32, dtype=torch.int32)
        w["model.layers.1.self_attn.q_proj.packed"] = torch.zeros(16, dtype=torch.uint8)
        return w

    rewrite_weights(ckpt, quantize)
    problems = check(ckpt).problems
    assert any(p.startswith("int32 tensors") and "q_proj.qweight" in p for p in problems)
    assert any(p.startswith("uint8 tensors") and "q_proj.packed" in p for p in problems)


def test_position_ids_buffer_is_not_a_weight(ckpt):
    rewrite_weights(ckpt, lambda w: {**w, "model.embeddings.position_ids": torch.arange(16).unsqueeze(0)})
    verdict = check(ckpt)
    assert verdict.ok and "int64" in verdict.dtypes


def test_quantization_config_rejected(ckpt):
    edit_config(ckpt, quantization_config={"quant_method": "bitsandbytes", "load_in_8bit": True})
    (problem,) = check(ckpt).problems
    assert (
        "field 'quantization_config'" in problem
        and "'bitsandbytes'" in problem
        and str(ckpt / "config.json") in problem
    )


def test_missing_tokenizer_rejected(ckpt):
    (ckpt / "tokenizer.json").unlink()
    (problem,) = check(ckpt).problems
    assert "no tokenizer" in problem


def test_tokenizer_config_with_vocab_is_enough(ckpt):
    (ckpt / "tokenizer.json").unlink()
    (ckpt / "vocab.json").write_text("{}")
    (ckpt / "merges.txt").write_text("")
    assert check(ckpt).ok


def test_truncated_data_rejected(ckpt):
    path = ckpt / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[:-100])
    problems = check(ckpt).problems
    assert problems and all("truncated safetensors" in p for p in problems)
    assert "lm_head.weight" in " ".join(problems) or "model." in " ".join(problems)


def test_truncated_inside_header_rejected(ckpt):
    path = ckpt / "model.safetensors"
    path.write_bytes(path.read_bytes()[:200])
    (problem,) = check(ckpt).problems
    assert "truncated safetensors (header says" in problem


def test_unknown_architecture_rejected(ckpt):
    edit_config(
        ckpt, model_type="martian", architectures=["MartianForCausalLM"], auto_map={"AutoModelForCausalLM": "m.Martian"}
    )
    (problem,) = check(ckpt).problems
    assert "'martian' is unknown to transformers" in problem and "trust_remote_code" in problem


def test_non_causal_architecture_rejected(ckpt):
    edit_config(ckpt, architectures=["LlamaForSequenceClassification"])
    (problem,) = check(ckpt).problems
    assert "'LlamaForSequenceClassification' is not a causal-LM architecture" in problem


def test_bf16_rejected_where_forbidden_and_accepted_where_allowed(ckpt):
    rewrite_weights(ckpt, lambda w: {k: v.bfloat16() for k, v in w.items()})
    verdict = check(ckpt)
    assert not verdict.ok and verdict.problems[0].startswith(
        "bfloat16 tensors are not allowed (allowed: float16, float32): 'lm_head.weight'"
    )
    assert "and " in verdict.problems[0] and " more" in verdict.problems[0]
    assert check(ckpt, allowed=ALL).ok


def test_forbidden_compute_dtype_rejected(ckpt):
    (problem,) = check(ckpt, dtype="bfloat16").problems
    assert "compute dtype 'bfloat16' is not allowed" in problem


def test_sharded_checkpoint_and_missing_shard(tiny_models, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "sharded"
    AutoModelForCausalLM.from_pretrained(tiny_models["qwen2"]).save_pretrained(out, max_shard_size="20KB")
    AutoTokenizer.from_pretrained(tiny_models["qwen2"]).save_pretrained(out)
    shards = sorted(out.glob("model-*.safetensors"))
    assert len(shards) > 1 and (out / "model.safetensors.index.json").is_file()
    good = check(out)
    assert good.ok and good.n_params == check(tiny_models["qwen2"]).n_params
    shards[-1].unlink()
    assert any(f"shard '{shards[-1].name}' is missing" in p for p in check(out).problems)


def test_bin_weights_policy(ckpt):
    weights = load_file(ckpt / "model.safetensors")
    (ckpt / "model.safetensors").unlink()
    torch.save(weights, ckpt / "pytorch_model.bin")
    rejected = check(ckpt)
    assert not rejected.ok and "cannot be verified without unpickling" in rejected.problems[0]
    warned = validate_model(ModelRef("team", "llama", str(ckpt)), allowed_dtypes=RULE_2024, bin_policy="warn")
    assert warned.ok and warned.n_params is None and "cannot be verified" in warned.warnings[0]


def test_missing_checkpoint_and_config(tmp_path, ckpt):
    assert "checkpoint directory not found" in check(tmp_path / "nope").problems[0]
    (ckpt / "config.json").unlink()
    assert any(p.endswith("config.json: missing") for p in check(ckpt).problems)


def test_peft_adapter_checked(tiny_models, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_models["llama"])
    lora = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], use_dora=True))
    adapter = tmp_path / "dora"
    lora.save_pretrained(adapter)
    base = check(tiny_models["llama"])
    verdict = check(tiny_models["llama"], adapter=str(adapter))
    n_adapter = sum(t.numel for t in read_safetensors_header(adapter / "adapter_model.safetensors")[0])
    assert verdict.ok and verdict.n_params == base.n_params + n_adapter and n_adapter > 0
    w = load_file(adapter / "adapter_model.safetensors")
    save_file({k: v.to(torch.int8) for k, v in w.items()}, adapter / "adapter_model.safetensors")
    (problem,) = check(tiny_models["llama"], adapter=str(adapter)).problems
    assert problem.startswith("int8 tensors") and "(adapter_model.safetensors)" in problem
    (adapter / "adapter_config.json").unlink()
    assert "adapter_config.json: missing" in check(tiny_models["llama"], adapter=str(adapter)).problems[0]


def test_memory_estimate_by_hand():
    # llama-3-8b-like: 8.03e9 params, 32 layers, 8 kv heads x 128, fp16, 2048 tokens.
    config = {
        "hidden_size": 4096,
        "num_attention_heads": 32,
        "num_key_value_heads": 8,
        "num_hidden_layers": 32,
        "intermediate_size": 14336,
        "vocab_size": 128256,
    }
    got = estimate_memory_bytes(config, 8_030_261_248, "float16")
    weights = 8_030_261_248 * 2
    kv = 2 * 32 * 8 * 128 * 2048 * 2  # 256 MiB
    logits = 2048 * 128256 * 4  # ~1 GiB
    acts = 4 * 2048 * 14336 * 2
    assert got == weights + kv + logits + acts
    assert 16.0 < got / 2**30 < 16.7


def evalfleet(*argv):
    """Run the real CLI in-process: (exit status, stdout)."""
    import contextlib
    import io

    from evalfleet.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(list(argv))
    return status, out.getvalue()


def test_cli_verdict_lines_and_exit_code(tiny_models, ckpt, tmp_path):
    edit_config(ckpt, quantization_config={"quant_method": "gptq"})
    config = {
        "edition": "edge-llm-2024",
        "submissions": [
            {"team": "good", "models": [{"path": str(tiny_models["phi"]), "family": "phi"}]},
            {"team": "bad", "models": [{"path": str(ckpt), "family": "llama"}]},
        ],
    }
    path = tmp_path / "finals.yaml"
    path.write_text(yaml.safe_dump(config))
    status, stdout = evalfleet("validate", str(path))
    assert status == 1
    lines = stdout.splitlines()
    assert lines[0] == "edition edge-llm-2024: allowed weight dtypes float16, float32"
    assert lines[1].startswith("OK   good--phi:") and lines[2].startswith("FAIL bad--llama:")
    assert "quantization_config" in lines[3] and lines[-1] == "1/2 models pass"
    config["submissions"].pop()
    path.write_text(yaml.safe_dump(config))
    assert evalfleet("validate", str(path))[0] == 0


def test_cli_warns_when_the_estimate_exceeds_the_memory_gate(ckpt, tmp_path):
    # A 7e9-parameter float16 tensor in a sparse file: the header is all validate reads.
    header = json.dumps(
        {"model.embed_tokens.weight": {"dtype": "F16", "shape": [7_000_000_000], "data_offsets": [0, 14_000_000_000]}}
    ).encode()
    path = ckpt / "model.safetensors"
    with path.open("wb") as fh:
        fh.write(len(header).to_bytes(8, "little") + header)
        fh.truncate(8 + len(header) + 14_000_000_000)
    verdict = check(ckpt, dtype="float16")
    assert verdict.ok and verdict.n_params == 7_000_000_000 and verdict.est_memory_bytes > 14e9
    config = {
        "edition": "edge-llm-2024",
        "submissions": [{"team": "big", "models": [{"path": str(ckpt), "family": "llama", "dtype": "float16"}]}],
    }
    (tmp_path / "finals.yaml").write_text(yaml.safe_dump(config))
    status, stdout = evalfleet("validate", str(tmp_path / "finals.yaml"))
    assert status == 0 and "exceeds the edition's 12288 MB gate" in stdout
