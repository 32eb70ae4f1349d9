"""hf backend on real tiny checkpoints: stop strings, left padding, log-likelihoods vs a direct torch computation."""

from __future__ import annotations

import shutil

import pytest
import torch

from evalfleet.backends.hf import HFBackend, cut_at_stop, loglik_tokens
from evalfleet.errors import EvalfleetError
from evalfleet.types import GenerationParams, ModelRef

PROMPTS = [
    "Question: Janet has 3 apples.",
    "A",
    "Complete the following python code:\ndef add(a, b):",
    "Answer: 7 + 8 =",
]


@pytest.fixture(scope="module")
def backend(tiny_models):
    return HFBackend(ModelRef(team="t", family="llama", path=str(tiny_models["llama"])), batch_size=4)


def test_left_padded_batches_give_the_unbatched_greedy_output(backend):
    params = GenerationParams(max_new_tokens=12)
    batched = backend.generate(PROMPTS, params)
    backend.batch_size = 1
    try:
        single = backend.generate(PROMPTS, params)
    finally:
        backend.batch_size = 4
    assert batched == single
    assert [g.n_prompt_tokens for g in batched] == [len(backend.tokenizer(p)["input_ids"]) for p in PROMPTS]
    assert all(1 <= g.n_output_tokens <= 12 for g in batched)


def test_stop_string_cuts_the_output_and_stops_early(backend):
    full = backend.generate(PROMPTS[:1], GenerationParams(max_new_tokens=16))[0]
    assert len(full.text) >= 6
    stop = full.text[3:5]
    cut = backend.generate(PROMPTS[:1], GenerationParams(max_new_tokens=16, stop=(stop,)))[0]
    assert cut.text == full.text[: full.text.find(stop)]
    assert cut.n_output_tokens <= full.n_output_tokens
    assert cut_at_stop("abc Question: x", ["Question:", "c"]) == "ab"


def test_loglikelihood_equals_a_direct_torch_computation(backend):
    requests = [("Question: Janet has", " 3 apples"), ("The answer is", " B."), ("", "Answer: 7")]
    got = backend.loglikelihood(requests)
    for (ctx, cont), ll in zip(requests, got):
        ctx_ids, cont_ids = loglik_tokens(backend.tokenizer, ctx, cont)
        ids = torch.tensor([ctx_ids + cont_ids])
        with torch.no_grad():
            logp = torch.log_softmax(backend.model(ids).logits[0].float(), -1)
        positions = range(len(ctx_ids) - 1, len(ctx_ids) + len(cont_ids) - 1)
        expected = sum(logp[p, t].item() for p, t in zip(positions, cont_ids))
        assert ll.logprob == pytest.approx(expected, abs=1e-4)
        assert ll.n_tokens == len(cont_ids)
        assert ll.is_greedy == all(logp[p].argmax().item() == t for p, t in zip(positions, cont_ids))
    assert loglik_tokens(backend.tokenizer, "", "x") == (
        [backend.tokenizer.eos_token_id],
        backend.tokenizer("x")["input_ids"],
    )


def _opencompass_ppl(model, tokenizer, text: str) -> float:
    """HuggingFaceBaseModel.get_ppl (OpenCompass 0.5.x) for one text: loss of tokens 2..n / all tokens."""
    ids = torch.tensor([tokenizer(text)["input_ids"]])
    with torch.no_grad():
        logits = model(ids).logits
    loss = torch.nn.functional.cross_entropy(logits[0, :-1].float(), ids[0, 1:], reduction="none")
    return loss.sum().item() / (ids != tokenizer.pad_token_id).sum().item()


@pytest.mark.parametrize("bos", [False, True])
def test_empty_context_logliks_give_opencompass_ppl_with_and_without_bos(backend, tmp_path, bos):
    from transformers import AutoTokenizer

    from evalfleet.benchmarks.chid import choose

    backend.tokenizer.save_pretrained(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    if bos:
        from tokenizers.processors import TemplateProcessing

        tok._tokenizer.post_processor = TemplateProcessing(
            single=f"{tok.bos_token} $A", special_tokens=[(tok.bos_token, tok.bos_token_id)]
        )
    texts = ["Answer: 7 + 8 = 15", "Question: Janet has 3 apples.", "def add(a, b):"]
    assert (tok(texts[0])["input_ids"][0] == tok.bos_token_id) == bos
    original, backend.tokenizer = backend.tokenizer, tok
    try:
        lls = backend.loglikelihood([("", t) for t in texts])
    finally:
        backend.tokenizer = original
    reference = [_opencompass_ppl(backend.model, tok, t) for t in texts]
    for ll, text, ppl in zip(lls, texts, reference):
        assert ll.n_context_tokens + ll.n_tokens == len(tok(text)["input_ids"]) and ll.n_context_tokens == 1
        assert -ll.logprob / (ll.n_tokens + ll.n_context_tokens) == pytest.approx(ppl, abs=1e-4)
    assert choose(lls, None, None) == str(reference.index(min(reference)))


def test_context_trailing_space_moves_to_the_continuation(backend):
    a = loglik_tokens(backend.tokenizer, "The answer is ", "B")
    b = loglik_tokens(backend.tokenizer, "The answer is", " B")
    assert a == b


def test_meets_the_backend_protocol_and_rejects_unknown_options(backend, tiny_models):
    from evalfleet.contracts import Backend

    assert isinstance(backend, Backend)
    with pytest.raises(TypeError, match="prefix_cach"):  # no **kwargs swallowing a misspelt option
        HFBackend(ModelRef(team="t", family="llama", path=str(tiny_models["llama"])), prefix_cach=False)


def test_missing_and_corrupt_checkpoints_name_the_path(tiny_models, tmp_path):
    with pytest.raises(EvalfleetError, match=str(tmp_path / "missing")):
        HFBackend(ModelRef(team="t", family="llama", path=str(tmp_path / "missing")))
    broken = tmp_path / "broken"
    shutil.copytree(tiny_models["llama"], broken)
    (broken / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(EvalfleetError, match=str(broken)):
        HFBackend(ModelRef(team="t", family="llama", path=str(broken)))


def test_max_prompt_tokens_truncates_the_middle_of_long_prompts_only(backend):
    from evalfleet.types import GenerationParams

    long_prompt = " ".join(f"word{i}" for i in range(300))
    ids = backend.tokenizer(long_prompt)["input_ids"]
    short_ids = backend.tokenizer(PROMPTS[3])["input_ids"]
    budget = 40
    assert len(ids) > budget > len(short_ids)
    params = GenerationParams(max_new_tokens=5, max_prompt_tokens=budget)
    long_gen, short_gen = backend.generate([long_prompt, PROMPTS[3]], params)
    assert long_gen.n_prompt_tokens == budget and long_gen.n_output_tokens >= 1
    kept = ids[: budget // 2] + ids[-(budget // 2) :]  # OpenCompass mode='mid': first and last halves
    assert long_gen.text == backend._generate_batch([kept], params)[0][0].text
    assert short_gen == backend.generate([PROMPTS[3]], GenerationParams(max_new_tokens=5))[0]


FEWSHOT = "".join(
    f"Question: what is {a} plus {b}?\nAnswer: {a + b}\n\n" for a, b in [(3, 4), (10, 12), (7, 8), (21, 5)]
)
QUESTIONS = [
    "what is 2 plus 2?",
    "Tom has 5 apples and eats one. How many are left?",
    "what is 9 plus 1?",
    "A train leaves at noon and arrives at three. How long is the trip?",
    "what is 6 plus 7?",
    "Name a color.",
]


@pytest.mark.parametrize("family", ["llama", "qwen2", "phi"])
def test_prefix_cache_gives_the_outputs_of_the_left_padded_layout(tiny_models, family):
    ref = ModelRef(team="t", family=family, path=str(tiny_models[family]))
    cached, plain = HFBackend(ref, batch_size=4), HFBackend(ref, batch_size=4, prefix_cache=False)
    prompts = [FEWSHOT + f"Question: {q}\nAnswer:" for q in QUESTIONS]
    for params in (GenerationParams(max_new_tokens=10), GenerationParams(max_new_tokens=10, stop=("Question", "\n\n"))):
        out = cached.generate(prompts[:4], params) + cached.generate(prompts[4:], params)
        assert out == plain.generate(prompts[:4], params) + plain.generate(prompts[4:], params)
        assert [g.n_prompt_tokens for g in out] == [len(cached.tokenizer(p)["input_ids"]) for p in prompts]
        assert cached.generate(prompts[:4], params) == out[:4]  # a kept entry is not altered by use
    (entry,) = cached._prefixes  # both batches (and the lone-row reuse) took the one entry
    assert len(entry) >= 32 and plain._prefixes == {}


def test_prefix_cache_stays_off_past_a_sliding_window_and_for_sampling(tiny_models):
    ref = ModelRef(team="t", family="qwen2", path=str(tiny_models["qwen2"]))
    backend = HFBackend(ref, batch_size=4)
    prompts = [FEWSHOT + f"Question: {q}\nAnswer:" for q in QUESTIONS[:4]]
    ids = [backend.tokenizer(p)["input_ids"] for p in prompts]
    greedy = GenerationParams(max_new_tokens=8)
    assert backend._choose_prefix(ids, greedy) is not None
    assert backend._choose_prefix(ids, GenerationParams(max_new_tokens=8, temperature=0.8)) is None
    backend.model.config.use_sliding_window, backend.model.config.sliding_window = True, max(map(len, ids)) + 4
    assert backend._choose_prefix(ids, greedy) is None  # prompt + 8 new tokens would pass the window
    backend.model.config.sliding_window = max(map(len, ids)) + 8
    assert backend._choose_prefix(ids, greedy) is not None


def test_a_prompt_longer_than_the_context_keeps_its_last_tokens_as_opencompass_does(backend):
    prompt = FEWSHOT + "Question: what is 2 plus 2?\nAnswer:"
    ids = backend.tokenizer(prompt)["input_ids"]
    saved = backend.max_length
    backend.max_length = len(ids) - 20
    try:
        (gen,) = backend.generate([prompt], GenerationParams(max_new_tokens=6))
    finally:
        backend.max_length = saved
    assert gen.n_prompt_tokens == len(ids) - 20
    with torch.no_grad():  # OpenCompass: tokenizer(truncation=True, max_length=max_seq_len, truncation_side='left')
        direct = backend.model.generate(
            torch.tensor([ids[20:]]),
            attention_mask=torch.ones(1, len(ids) - 20, dtype=torch.long),
            max_new_tokens=6,
            do_sample=False,
            pad_token_id=backend.tokenizer.pad_token_id,
        )
    new = direct[0, len(ids) - 20 :].tolist()
    assert gen.text == backend.tokenizer.decode(new[: gen.n_output_tokens], skip_special_tokens=True)
