"""ELMB DoRA submissions: a base checkpoint plus a PEFT DoRA adapter (rank 16 on embeddings, attention, MLP and
lm_head), loaded by the hf backend (merged with peft), must equal peft's own unmerged forward and differ from the
base."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalfleet.benchmarks.elmb import load_items
from evalfleet.spec.taskspec import load_task
from evalfleet.types import ModelRef

FIXTURES = Path(__file__).resolve().parents[2] / "evalfleet" / "benchmarks" / "fixtures"
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
    """Sum of continuation-token log-probabilities, lm-eval 0.4.13's tokenization (the tokenizer's own special
    tokens), one request at a time (no batching)."""
    import torch

    out = []
    for context, continuation in requests:
        ctx = tokenizer(context)["input_ids"]
        whole = tokenizer(context + continuation)["input_ids"]
        cont = whole[len(ctx) :]
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
    peft_model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32), adapter
    )
    peft_model.eval()
    expected = reference_logliks(peft_model, tokenizer, requests_)
    base_expected = reference_logliks(
        AutoModelForCausalLM.from_pretrained(base_path, dtype=torch.float32), tokenizer, requests_
    )

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


@pytest.mark.slow
def test_elmb_example_run_gives_the_delta_view(tmp_path):
    """docs/examples/elmb.yaml end to end (real `evalfleet run` on a local Ray): base and both submissions on the
    same items; the delta view from the records equals deltas computed here with transformers + peft directly."""
    import importlib.util
    import subprocess
    import sys

    import torch
    import yaml
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evalfleet.scoring.rules import parse_rules
    from evalfleet.scoring.scoreboard import compute_scoreboard
    from evalfleet.scoring.task_scores import task_scores
    from evalfleet.spec.edition import load_edition
    from evalfleet.store.results import ResultStore

    root = Path(__file__).resolve().parents[2]
    spec_ = importlib.util.spec_from_file_location(
        "make_elmb_models", root / "docs" / "examples" / "make_elmb_models.py"
    )
    maker = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(maker)
    maker.main(tmp_path / "models")
    config = yaml.safe_load((root / "docs" / "examples" / "elmb.yaml").read_text())
    config["data_dir"] = str(FIXTURES)
    config["shard_size"] = 6  # one shard per task and model: fewer Ray round trips in the test
    (tmp_path / "elmb.yaml").write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [sys.executable, "-m", "evalfleet", "run", "elmb.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    records = ResultStore(str(tmp_path / "results-elmb")).read_records()
    assert records["error"].isna().all()
    for task, rows in records.groupby("task"):  # every model answered the same items
        ids = {m: tuple(sorted(r["item_id"])) for m, r in rows.groupby("model")}
        assert len(ids) == 3 and len(set(ids.values())) == 1, task
    board = compute_scoreboard(task_scores(records), parse_rules(load_edition("elmb-2025")))
    delta = next(v for v in board.views if v.name == "delta").table.set_index("team")

    models = tmp_path / "models"
    tokenizer = AutoTokenizer.from_pretrained(models / "elmb-base")
    base = AutoModelForCausalLM.from_pretrained(models / "elmb-base", dtype=torch.float32).eval()
    alpha = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(models / "elmb-base", dtype=torch.float32), models / "alpha-dora"
    ).eval()
    beta = AutoModelForCausalLM.from_pretrained(models / "beta-merged", dtype=torch.float32).eval()

    def acc(model, task):
        items = load_items(load_task(task), FIXTURES)
        right = 0
        for item in items:
            lls = reference_logliks(model, tokenizer, [(item.messages[0].content, c) for c in item.choices])
            right += max(range(len(lls)), key=lambda j: (lls[j], -j)) == item.reference
        return 100.0 * right / len(items)

    use_cases = {
        "roleplay": "elmb_roleplay",
        "robotics": "elmb_reasoning",
        "function_calling": "elmb_function_calling",
        "rag": "elmb_chatrag",
    }
    base_acc = {u: acc(base, t) for u, t in use_cases.items()}
    for team, model in (("alpha", alpha), ("beta", beta)):
        expected = {u: acc(model, t) - base_acc[u] for u, t in use_cases.items()}
        for use_case, value in expected.items():
            assert delta.loc[team, use_case] == pytest.approx(value, abs=1e-9), (team, use_case)
        assert delta.loc[team, "grand"] == pytest.approx(sum(expected.values()), abs=1e-9)
