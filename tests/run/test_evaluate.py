"""evaluate_shard with a real tiny model: rows per item and sample, batch → per-item fallback, loglikelihood rows."""

from __future__ import annotations

import json

import pytest

from evalfleet.backends.hf import HFBackend
from evalfleet.benchmarks import gsm8k
from evalfleet.benchmarks.prompting import prompt_hash, render_base
from evalfleet.run.evaluate import evaluate_shard
from evalfleet.spec.taskspec import parse_task
from evalfleet.store.results import RECORD_SCHEMA
from evalfleet.types import Item, Message, ModelRef

GSM = parse_task(
    {
        "name": "gsm8k",
        "module": "gsm8k",
        "metric": "accuracy",
        "generation": {"max_new_tokens": 6},
        "options": {"rounds": [{"role": "user", "content": "Question: {question}\nAnswer:"}]},
    },
    name="gsm8k",
)
ITEMS = [
    Item(id=f"{i:02d}", messages=(Message("user", f"Question: {q}\nAnswer:"),), reference=r)
    for i, (q, r) in enumerate([("1 + 1?", "2"), ("BAD item", "3"), ("Ten minus four?", "6")])
]


class FailsOnBad:
    """The real backend, except that any prompt containing 'BAD' raises (as a too-long prompt would)."""

    def __init__(self, inner):
        self.inner, self.tokenizer, self.batch_size = inner, inner.tokenizer, inner.batch_size

    def generate(self, prompts, params):
        if any("BAD" in p for p in prompts):
            raise RuntimeError("prompt rejected")
        return self.inner.generate(prompts, params)


@pytest.fixture(scope="module")
def model(tiny_models):
    return ModelRef(team="t", family="qwen2", path=str(tiny_models["qwen2"]))


@pytest.fixture(scope="module")
def backend(model):
    return HFBackend(model, batch_size=4)


def test_generate_rows_and_a_failing_item_recorded_not_fatal(backend, model):
    table = evaluate_shard(FailsOnBad(backend), GSM, ITEMS, model, backend_name="hf", shard="fp")
    assert table.schema == RECORD_SCHEMA
    rows = table.to_pylist()
    assert [r["item_id"] for r in rows] == ["00", "01", "02"]
    assert rows[1]["error"] == "RuntimeError: prompt rejected" and rows[1]["score"] == 0.0
    direct = backend.generate([render_base(ITEMS[0].messages)], GSM.generation)[0]
    good = rows[0]
    assert good["error"] is None and good["output"] == direct.text and good["shard"] == "fp"
    assert good["prompt_hash"] == prompt_hash(render_base(ITEMS[0].messages))
    assert good["extracted"] == gsm8k.extract(direct.text)
    assert json.loads(good["metrics"]) == {"accuracy": good["score"]}
    assert (good["team"], good["model"], good["task"], good["backend"]) == ("t", "t--qwen2", "gsm8k", "hf")


def test_samples_give_one_row_each(backend, model):
    spec = parse_task(
        {
            "name": "gsm8k",
            "module": "gsm8k",
            "metric": "accuracy",
            "generation": {"max_new_tokens": 4, "num_samples": 3, "temperature": 1.0},
            "options": {"rounds": []},
        },
        name="gsm8k",
    )
    rows = evaluate_shard(backend, spec, ITEMS[:1], model, backend_name="hf").to_pylist()
    assert [r["sample"] for r in rows] == [0, 1, 2]


def test_loglikelihood_rows_choose_the_best_choice(backend, model):
    spec = parse_task({"name": "mc", "module": "elmb", "kind": "loglikelihood", "metric": "acc"}, name="mc")
    item = Item(
        id="0",
        messages=(Message("user", "The answer is"),),
        reference="1",
        choices=(" A", " B", " C"),
        meta={"choice_lengths": [2, 2, 2]},
    )
    row = evaluate_shard(backend, spec, [item], model, backend_name="hf").to_pylist()[0]
    direct = backend.loglikelihood([("The answer is", c) for c in item.choices])
    assert row["logliks"] == pytest.approx([d.logprob for d in direct])
    best = max(range(3), key=lambda j: direct[j].logprob)
    assert row["extracted"] == str(best) and row["score"] == float(best == 1)
    assert set(json.loads(row["metrics"])) == {"acc", "acc_norm"}


def test_chat_style_uses_the_tokenizer_chat_template(backend, model):
    from dataclasses import replace

    from evalfleet.benchmarks.prompting import render

    chat = replace(model, prompt_style="chat")
    row = evaluate_shard(backend, GSM, ITEMS[:1], chat, backend_name="hf").to_pylist()[0]
    prompt = render(ITEMS[0].messages, "chat", backend.tokenizer)
    assert prompt.startswith("<|user|>\n") and prompt.endswith("<|assistant|>\n")
    assert row["prompt_hash"] == prompt_hash(prompt) and row["prompt_style"] == "chat"
    assert row["n_prompt_tokens"] == len(backend.tokenizer(prompt)["input_ids"])


def test_longbench_default_budget_is_the_models_context_minus_each_items_output_length(backend, model, shared_data):
    from dataclasses import replace

    from evalfleet.benchmarks import longbench
    from evalfleet.spec.taskspec import load_task

    spec = load_task("longbench")
    assert spec.generation.max_prompt_tokens == "context"
    spec = replace(spec, options={**spec.options, "subsets": ["passage_retrieval_zh", "multifieldqa_zh"]})
    loaded = longbench.load_items(spec, shared_data)
    items = [i for s in ("passage_retrieval_zh", "multifieldqa_zh") for i in loaded if i.subset == s][:1] + [
        i for i in loaded if i.subset == "multifieldqa_zh"
    ][:1]
    saved = backend.max_length
    backend.max_length = 160  # a model whose context is 160 tokens
    try:
        rows = evaluate_shard(backend, spec, items, model, backend_name="hf").to_pylist()
    finally:
        backend.max_length = saved
    assert [r["error"] for r in rows] == [None, None]
    # OpenCompass mode='mid': max_seq_len - max_out_len (32 for passage_retrieval_zh, 64 for multifieldqa_zh)
    assert [r["n_prompt_tokens"] for r in rows] == [160 - 32, 160 - 64]


def test_longbench_items_keep_their_subsets_output_length_and_prompt_budget(backend, model, shared_data):
    from dataclasses import replace

    from evalfleet.benchmarks import longbench
    from evalfleet.spec.taskspec import load_task
    from evalfleet.types import GenerationParams

    spec = load_task("longbench")
    spec = replace(
        spec,
        options={**spec.options, "subsets": ["passage_retrieval_zh", "multifieldqa_zh"]},
        generation=GenerationParams(max_new_tokens=48, max_prompt_tokens=64),
    )
    loaded = longbench.load_items(spec, shared_data)
    items = [i for s in ("passage_retrieval_zh", "multifieldqa_zh") for i in [i for i in loaded if i.subset == s][:2]]
    limits = {"passage_retrieval_zh": 32, "multifieldqa_zh": 48}  # subset max_out_len 32 / 64, capped by the spec's 48
    assert {i.subset: i.meta["max_new_tokens"] for i in items} == {"passage_retrieval_zh": 32, "multifieldqa_zh": 64}
    rows = evaluate_shard(backend, spec, items, model, backend_name="hf").to_pylist()
    assert [r["item_id"] for r in rows] == [i.id for i in items]
    for row, item in zip(rows, items):
        assert row["error"] is None
        assert 1 <= row["n_output_tokens"] <= limits[item.subset]
        assert row["n_prompt_tokens"] == 64  # every LongBench context is far longer: middle-truncated
        alone = backend.generate(
            [render_base(item.messages)], replace(spec.generation, max_new_tokens=limits[item.subset])
        )[0]
        assert (row["output"], row["n_output_tokens"]) == (alone.text, alone.n_output_tokens)
