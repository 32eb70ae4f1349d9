"""The transformers backend: batched greedy generation and batched continuation log-likelihoods.

Generation: prompts are tokenized alone, sorted by length (longest first) and cut into batches of
`batch_size`, left-padded, decoded greedily with the KV cache; a row stops at EOS or as soon as its
decoded text contains a stop string, and the text is cut before the first stop string. Batches are
a function of the prompts only, so the same shard gives the same outputs on any worker. With
`params.max_prompt_tokens` set, a longer prompt keeps its first and last budget//2 token ids
(`truncation.middle_truncate`, OpenCompass mode='mid'); 'context' takes the budget from the model's
context length (`max_length`) minus max_new_tokens. A prompt still longer than `max_length` keeps its
last `max_length` tokens, as OpenCompass's HF wrappers truncate by default (truncation_side='left').

Prefix cache (greedy, one sample): when the prompts of a batch share a long leading run of tokens
(few-shot exemplars), that prefix's KV cache is computed once for one row and kept (the last
PREFIX_CACHE_ENTRIES prefixes, `prefix.choose_prefix` decides), copied for each batch, and the rows
are laid out as prefix + padding + own tokens with the padding masked. Position ids come from the
attention mask, so every token sees the same positions and context as in the left-padded layout;
tests compare both layouts' outputs. Not used for sampling, nor where a sliding window is shorter
than prompt + output; an architecture whose cache refuses the layout falls back to the plain one.
`prefix_cache=False` turns it off.

Log-likelihoods follow lm-evaluation-harness: trailing spaces of the context move to the
continuation, context + continuation are encoded whole and split at the context's token length;
an empty context takes the text's first token (BOS if any) as context (see `loglik_tokens`), and every
Loglik reports its context length (`n_context_tokens`).
"""

from __future__ import annotations

import copy
import gc
from collections import OrderedDict
from pathlib import Path
from typing import Any, ClassVar, Sequence

from evalfleet.backends.prefix import choose_prefix
from evalfleet.backends.truncation import fit_prompt
from evalfleet.errors import EvalfleetError
from evalfleet.types import Generation, GenerationParams, Loglik, ModelRef


class HFBackend:
    """One transformers causal LM (optionally with a merged PEFT adapter) on one device.

    Options (keyword-only): batch_size (prompts per forward batch, >= 1, default 8); device
    ('cuda', 'cpu', or None = CUDA when visible, else CPU); max_length (context limit in tokens,
    default the config's max_position_embeddings); prefix_cache (reuse the KV cache of prompts'
    shared prefix, default True). Any other option is an error.
    """

    OPTIONS: ClassVar[frozenset[str]] = frozenset({"batch_size", "device", "max_length", "prefix_cache"})
    """The keyword options above (a run config's `backend_options` are checked against them)."""
    PREFIX_CACHE_ENTRIES = 4

    def __init__(
        self,
        model: ModelRef,
        *,
        batch_size: int = 8,
        device: str | None = None,
        max_length: int | None = None,
        prefix_cache: bool = True,
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.ref = model
        self.batch_size = max(1, int(batch_size))
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        path = Path(model.path)
        if not path.is_dir():
            raise EvalfleetError("checkpoint directory not found", source=str(path), field="path")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(path))
            lm = AutoModelForCausalLM.from_pretrained(str(path), dtype=getattr(torch, model.dtype))
        except Exception as exc:
            raise EvalfleetError(
                f"cannot load checkpoint: {type(exc).__name__}: {exc}", source=str(path), field="path"
            ) from exc
        if model.adapter:
            try:
                from peft import PeftModel

                lm = PeftModel.from_pretrained(lm, model.adapter).merge_and_unload()
            except Exception as exc:
                raise EvalfleetError(
                    f"cannot apply adapter: {type(exc).__name__}: {exc}", source=model.adapter, field="adapter"
                ) from exc
        self.model = lm.to(self.device).eval()
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.max_length = max_length or getattr(lm.config, "max_position_embeddings", None) or 2048
        self.prefix_cache = bool(prefix_cache)
        self._prefixes: OrderedDict[tuple[int, ...], Any] = OrderedDict()

    # ---- generation -------------------------------------------------------------------------
    def generate(self, prompts: Sequence[str], params: GenerationParams) -> list[Generation]:
        """One Generation per prompt and sample (prompt-major order)."""
        encoded = [
            fit_prompt(
                self.tokenizer(p, add_special_tokens=True)["input_ids"],
                params.max_prompt_tokens,
                params.max_new_tokens,
                self.max_length,
            )
            for p in prompts
        ]
        order = sorted(range(len(prompts)), key=lambda i: (-len(encoded[i]), i))
        out: dict[int, list[Generation]] = {}
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            for i, gens in zip(batch, self._generate_batch([encoded[i] for i in batch], params)):
                out[i] = gens
        return [g for i in range(len(prompts)) for g in out[i]]

    def _cached_prefix(self, prefix: tuple[int, ...]) -> Any:
        """A copy of the KV cache of `prefix` (one row), computed on first use and kept (LRU)."""
        import torch

        if prefix in self._prefixes:
            self._prefixes.move_to_end(prefix)
        else:
            with torch.no_grad():
                out = self.model(input_ids=torch.tensor([list(prefix)], device=self.device), use_cache=True)
            self._prefixes[prefix] = out.past_key_values
            while len(self._prefixes) > self.PREFIX_CACHE_ENTRIES:
                self._prefixes.popitem(last=False)
        return copy.deepcopy(self._prefixes[prefix])

    def _choose_prefix(self, ids: list[list[int]], params: GenerationParams) -> tuple[int, ...] | None:
        """The cached prefix for this batch: greedy single samples only, and never past a sliding window."""
        if not self.prefix_cache or params.num_samples != 1 or params.temperature > 0:
            return None
        config = self.model.config
        window = getattr(config, "sliding_window", None) if getattr(config, "use_sliding_window", True) else None
        if isinstance(window, int) and max(len(x) for x in ids) + params.max_new_tokens > window:
            return None
        return choose_prefix(ids, self._prefixes)

    def _generate_batch(self, ids: list[list[int]], params: GenerationParams) -> list[list[Generation]]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList

        tok = self.tokenizer
        pad = tok.pad_token_id
        n = params.num_samples
        prefix = self._choose_prefix(ids, params)
        head = list(prefix or ())
        tails = [x[len(head) :] for x in ids]
        tail_width = max(len(x) for x in tails)
        width = len(head) + tail_width
        input_ids = torch.tensor([head + [pad] * (tail_width - len(x)) + x for x in tails], device=self.device)
        mask = torch.tensor(
            [[1] * len(head) + [0] * (tail_width - len(x)) + [1] * len(x) for x in tails], device=self.device
        )
        stop = [s for s in params.stop if s]

        class StopStrings(StoppingCriteria):
            def __call__(self, seqs, scores, **kwargs):
                new = seqs[:, width:]
                texts = tok.batch_decode(new, skip_special_tokens=True)
                return torch.tensor([any(s in t for s in stop) for t in texts], device=seqs.device)

        kwargs: dict[str, Any] = dict(
            input_ids=input_ids,
            attention_mask=mask,
            max_new_tokens=params.max_new_tokens,
            use_cache=True,
            pad_token_id=pad,
            eos_token_id=tok.eos_token_id,
            num_return_sequences=n,
            stopping_criteria=StoppingCriteriaList([StopStrings()]) if stop else None,
        )
        if prefix:
            cache = self._cached_prefix(prefix)
            cache.batch_repeat_interleave(len(ids))
            kwargs["past_key_values"] = cache
        if params.temperature > 0:
            torch.manual_seed(0)
            kwargs.update(do_sample=True, temperature=params.temperature, top_k=0, top_p=1.0)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with torch.no_grad():
            try:
                seqs = self.model.generate(**kwargs)
            except Exception:
                if not prefix:
                    raise
                self.prefix_cache = False  # this architecture's cache does not take a shared prefix: plain layout
                return self._generate_batch(ids, params)
        results = []
        for k, x in enumerate(ids):
            gens = []
            for s in range(n):
                new = seqs[k * n + s, width:].tolist()
                new = _trim(new, tok.eos_token_id, pad)
                text = cut_at_stop(tok.decode(new, skip_special_tokens=True), stop)
                gens.append(Generation(text=text, n_prompt_tokens=len(x), n_output_tokens=len(new)))
            results.append(gens)
        return results

    # ---- log-likelihood ---------------------------------------------------------------------
    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[Loglik]:
        """log P(continuation | context) for each (context, continuation), with is_greedy and token count."""
        pairs = [loglik_tokens(self.tokenizer, c, x) for c, x in requests]
        order = sorted(range(len(pairs)), key=lambda i: (-(len(pairs[i][0]) + len(pairs[i][1])), i))
        out: dict[int, Loglik] = {}
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            for i, ll in zip(batch, self._loglik_batch([pairs[i] for i in batch])):
                out[i] = ll
        return [out[i] for i in range(len(pairs))]

    def _loglik_batch(self, pairs: list[tuple[list[int], list[int]]]) -> list[Loglik]:
        import torch

        seqs = [(ctx + cont)[-(self.max_length + 1) :][:-1] for ctx, cont in pairs]
        width = max(len(s) for s in seqs)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs], device=self.device)
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs], device=self.device)
        with torch.no_grad():
            logprobs = torch.log_softmax(self.model(input_ids=input_ids, attention_mask=mask).logits.float(), dim=-1)
        results = []
        for k, ((ctx, cont), s) in enumerate(zip(pairs, seqs)):
            n = len(cont)
            rows = logprobs[k, len(s) - n : len(s)]
            target = torch.tensor(cont, device=rows.device)
            total = rows.gather(1, target[:, None]).sum().item()
            greedy = bool((rows.argmax(-1) == target).all().item())
            results.append(Loglik(logprob=float(total), is_greedy=greedy, n_tokens=n, n_context_tokens=len(ctx)))
        return results

    def close(self) -> None:
        """Release the model (and CUDA memory)."""
        self.model = None
        self._prefixes.clear()
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception:
            pass


def _trim(new: list[int], eos: int | None, pad: int | None) -> list[int]:
    """Generated ids up to and including the first EOS; trailing padding removed."""
    if eos is not None and eos in new:
        return new[: new.index(eos) + 1]
    while new and new[-1] == pad:
        new = new[:-1]
    return new


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """The text before the earliest occurrence of any stop string."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=len(text))
    return text[:cut]


def loglik_tokens(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """(context ids, continuation ids) as lm-evaluation-harness builds them.

    An empty context (OpenCompass PPL texts, CHID): the text is encoded whole with special tokens and
    its first token is the context (BOS when the tokenizer adds one, else the text's first token, which
    OpenCompass's get_ppl does not score either); a one-token text falls back to lm-eval's EOS context.
    """
    if not context:
        whole = tokenizer(continuation, add_special_tokens=True)["input_ids"]
        if len(whole) >= 2:
            return whole[:1], whole[1:]
        return [tokenizer.eos_token_id], tokenizer(continuation, add_special_tokens=False)["input_ids"]
    spaces = len(context) - len(context.rstrip(" "))
    if spaces:
        context, continuation = context[:-spaces], context[-spaces:] + continuation
    ctx = tokenizer(context, add_special_tokens=True)["input_ids"]
    whole = tokenizer(context + continuation, add_special_tokens=True)["input_ids"]
    return ctx, whole[len(ctx) :]
