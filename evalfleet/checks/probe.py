"""Throughput and peak-memory probe of a loaded transformers model, in two modes.

kit (edge-llm-2024's `EvaluateThrougthputAndMemory.py`, reproduced on purpose, quirks included):
  the model in float32; a batch of `batch_size` corpus texts padded / truncated to `input_tokens`
  (2000) tokens; `repetitions` (500) forward passes, no warm-up; each timed with `time.time()`
  and the end time read *before* the device synchronizes (so on a GPU it times kernel launch);
  throughput = batch_size / mean(times), in forward passes per second (not tokens/s);
  memory_mb = mean over repetitions of the peak allocated bytes so far / 2**20.
default (measured correctly): `warmup` untimed runs, then `repetitions` timed runs, each a
  prefill forward pass over exactly `input_tokens` tokens then `output_tokens` greedy decode steps
  on the KV cache, synchronized before every clock read (`time.perf_counter`); medians over runs:
  throughput = batch_size / prefill seconds (forward passes per second, the kit's unit),
  prefill_tokens_per_s = batch_size * input_tokens / prefill seconds,
  decode_tokens_per_s = batch_size * output_tokens / decode seconds;
  memory_mb = the peak over the timed runs (after warm-up) / 2**20.
Peak memory: on CUDA `torch.cuda.max_memory_allocated()` after `reset_peak_memory_stats()` (tensors
only; the CUDA context and allocator cache are not counted, as in the kit). On CPU the process's
peak resident set (VmHWM in /proc/self/status), reset by writing 5 to /proc/self/clear_refs
(Linux >= 4.0): it counts the whole process (Python, libraries, weights, activations), so it is
larger than the CUDA figure for the same model; where clear_refs is unavailable it falls back to
`resource.getrusage` ru_maxrss, the lifetime peak, which cannot be reset (reported as method
'ru_maxrss-lifetime').
Inputs come from the shipped corpus (evalfleet/checks/probe_corpus/), identical for every team.
"""

from __future__ import annotations

import re
import resource
import statistics
import time
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping, get_args

from evalfleet.errors import EvalfleetError
from evalfleet.spec import validation as v
from evalfleet.types import DTYPES, Dtype

ProbeMode = Literal["kit", "default"]
"""The kit's unsynchronized timing, or synchronized prefill + decode (module docstring)."""
MODES: tuple[ProbeMode, ...] = get_args(ProbeMode)
CORPUS_DIR = Path(__file__).resolve().parent / "probe_corpus"
MB = 2**20


@dataclass(frozen=True)
class ProbeSettings:
    """What one probe run measures; every field changes the numbers."""

    mode: ProbeMode = "default"
    """'kit' (the 2024 kit's unsynchronized forward-pass timing) or 'default' (synchronized prefill + decode)."""
    input_tokens: int = 2000
    """Tokens per input row (kit: padded / truncated to this; default: exactly this prompt length), >= 1."""
    batch_size: int = 1
    """Rows per forward pass (the final kit used 1, an earlier one 8), >= 1."""
    repetitions: int = 5
    """Timed runs (kit: 500), >= 1."""
    warmup: int = 1
    """Untimed runs before timing (kit: 0, as the kit had none), >= 0."""
    output_tokens: int = 48
    """Greedy decode steps after the prefill (default mode only), >= 1; input + output must fit the model's context."""
    dtype: Dtype | None = None
    """Cast the model to this dtype for the probe and back afterwards (kit: 'float32'); None = as loaded."""


KIT = ProbeSettings(mode="kit", repetitions=500, warmup=0, dtype="float32")
"""The 2024 kit's settings."""
DEFAULT = ProbeSettings()
"""Synchronized measurement defaults."""
SETTINGS = frozenset(f.name for f in fields(ProbeSettings)) - {"mode"}
"""The settings `make_settings` overrides accept (plus 'mode', which picks the defaults)."""


def make_settings(
    mode: str = "default", overrides: Mapping[str, Any] | None = None, *, source: str = "probe", field: str = ""
) -> ProbeSettings:
    """The mode's defaults with `overrides` (e.g. a task item's meta or a config's `probe:` mapping) applied.

    Errors name `source` and the setting, under `field` when given (e.g. 'options.repetitions')."""
    v.choice(mode, MODES, source=source, field=v.join(field, "mode"))
    base = KIT if mode == "kit" else DEFAULT
    values = {k: value for k, value in (overrides or {}).items() if k != "mode"}
    v.known_keys(values, SETTINGS, source=source, field=field, what="probe setting")
    for key, value in values.items():
        where = v.join(field, key)
        if key == "dtype":
            v.choice(value, (None, *DTYPES), source=source, field=where)
        else:
            v.integer(value, source=source, field=where, minimum=0 if key == "warmup" else 1)
    return replace(base, **values)


def corpus_texts() -> list[str]:
    """The shipped probe texts, in file order."""
    paths = sorted(CORPUS_DIR.glob("text_*.txt"))
    if not paths:
        raise EvalfleetError("probe corpus missing", source=str(CORPUS_DIR))
    return [p.read_text(encoding="utf-8") for p in paths]


def probe_inputs(tokenizer, settings: ProbeSettings) -> dict:
    """input_ids / attention_mask (CPU tensors) for the batch: corpus texts cycled, padded / truncated to
    input_tokens."""
    texts = corpus_texts()
    batch = [texts[i % len(texts)] for i in range(settings.batch_size)]
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    enc = tokenizer(batch, return_tensors="pt", padding="max_length", truncation=True, max_length=settings.input_tokens)
    return {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]}


class PeakMemory:
    """Peak memory of this process's device since the last `reset()`, in bytes (see the module docstring)."""

    def __init__(self, device: str):
        self.cuda = str(device).startswith("cuda")
        self.method = "cuda.max_memory_allocated" if self.cuda else "VmHWM"

    def reset(self) -> None:
        """Start a new high-water mark."""
        if self.cuda:
            import torch

            torch.cuda.reset_peak_memory_stats()
            return
        try:
            with open("/proc/self/clear_refs", "w") as fh:
                fh.write("5")
        except OSError:
            self.method = "ru_maxrss-lifetime"

    def peak_bytes(self) -> int:
        """The high-water mark now."""
        if self.cuda:
            import torch

            return int(torch.cuda.max_memory_allocated())
        if self.method == "VmHWM":
            try:
                status = Path("/proc/self/status").read_text()
                return int(re.search(r"VmHWM:\s+(\d+)\s+kB", status).group(1)) * 1024
            except (OSError, AttributeError):
                self.method = "ru_maxrss-lifetime"
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def kit_throughput(times: list[float], batch_size: int) -> float:
    """The kit's formula: batch_size / mean(forward seconds)."""
    return batch_size / statistics.fmean(times)


def kit_memory_mb(peaks: list[int]) -> float:
    """The kit's formula: mean of the per-repetition peak bytes, in MB (2**20 bytes)."""
    return statistics.fmean(peaks) / MB


@dataclass(frozen=True)
class KitRun:
    """The raw recordings of a kit-mode run."""

    times: tuple[float, ...]
    """Seconds per forward pass (end read before synchronizing, as the kit did)."""
    peaks: tuple[int, ...]
    """Peak bytes after each repetition."""


def run_kit(model, inputs: dict, settings: ProbeSettings, memory: PeakMemory) -> KitRun:
    """The kit's loop, verbatim in spirit: time.time() around model(**inputs), then synchronize."""
    import torch

    sync = torch.cuda.synchronize if memory.cuda else (lambda: None)
    for _ in range(settings.warmup):
        with torch.no_grad():
            model(**inputs)
    sync()
    memory.reset()
    times, peaks = [], []
    for _ in range(settings.repetitions):
        start = time.time()
        with torch.no_grad():
            model(**inputs)
        end = time.time()
        sync()
        times.append(end - start)
        peaks.append(memory.peak_bytes())
    return KitRun(tuple(times), tuple(peaks))


def _timed_generation(model, inputs: dict, steps: int, sync) -> tuple[float, float]:
    """(prefill seconds, decode seconds) of one prefill pass and `steps` greedy cached decode steps."""
    import torch

    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    sync()
    t0 = time.perf_counter()
    out = model(input_ids=ids, attention_mask=mask, use_cache=True)
    sync()
    t1 = time.perf_counter()
    past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
    for _ in range(steps):
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
        out = model(input_ids=token, attention_mask=mask, past_key_values=past, use_cache=True)
        past, token = out.past_key_values, out.logits[:, -1:].argmax(-1)
    sync()
    return t1 - t0, time.perf_counter() - t1


def run_default(model, inputs: dict, settings: ProbeSettings, memory: PeakMemory) -> dict[str, float]:
    """Synchronized prefill + decode timing, warm-up excluded, medians of the repetitions."""
    import torch

    sync = torch.cuda.synchronize if memory.cuda else (lambda: None)
    with torch.no_grad():
        for _ in range(settings.warmup):
            _timed_generation(model, inputs, settings.output_tokens, sync)
        memory.reset()
        start = time.perf_counter()
        runs = [_timed_generation(model, inputs, settings.output_tokens, sync) for _ in range(settings.repetitions)]
        seconds = time.perf_counter() - start
    prefill = statistics.median(r[0] for r in runs)
    decode = statistics.median(r[1] for r in runs)
    b = settings.batch_size
    return {
        "throughput": b / prefill,
        "prefill_tokens_per_s": b * settings.input_tokens / prefill,
        "decode_tokens_per_s": b * settings.output_tokens / decode,
        "prefill_seconds": prefill,
        "decode_seconds": decode,
        "seconds": seconds,
        "memory_mb": memory.peak_bytes() / MB,
        "prefill_tokens": float(b * settings.input_tokens),
        "decode_tokens": float(b * settings.output_tokens),
    }


@contextmanager
def cast_model(model, dtype: str | None) -> Iterator[None]:
    """Temporarily cast the model's weights to `dtype` (lossless round trip from float16/bfloat16 to float32)."""
    import torch

    before = next(model.parameters()).dtype
    target = getattr(torch, dtype) if dtype else before
    if target == before:
        yield
        return
    model.to(target)
    try:
        yield
    finally:
        model.to(before)


def run_probe(model, tokenizer, settings: ProbeSettings, memory: PeakMemory | None = None) -> dict[str, float]:
    """Probe a loaded causal LM (on its own device) and return the metrics (module docstring)."""
    device = next(model.parameters()).device
    memory = memory or PeakMemory(str(device))
    inputs = {k: v.to(device) for k, v in probe_inputs(tokenizer, settings).items()}
    model.eval()
    with cast_model(model, settings.dtype):
        if settings.mode == "kit":
            run = run_kit(model, inputs, settings, memory)
            metrics = {
                "throughput": kit_throughput(list(run.times), settings.batch_size),
                "memory_mb": kit_memory_mb(list(run.peaks)),
                "seconds": sum(run.times),
                "mean_forward_seconds": statistics.fmean(run.times),
            }
        else:
            metrics = run_default(model, inputs, settings, memory)
    metrics.update(
        input_tokens=float(settings.input_tokens),
        batch_size=float(settings.batch_size),
        repetitions=float(settings.repetitions),
    )
    return metrics


def probe_checkpoint(path: str, settings: ProbeSettings, *, device: str = "cpu") -> tuple[dict[str, float], str]:
    """Load a checkpoint with transformers on `device`, probe it; returns (metrics, peak-memory method)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, settings.dtype or "float32")).to(device)
    memory = PeakMemory(device)
    metrics = run_probe(model, tokenizer, settings, memory)
    return metrics, memory.method
