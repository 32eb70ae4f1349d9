"""Submission checks before any GPU hour is spent: pure file inspection, no weights loaded.

`validate_model(ref, allowed_dtypes=...)` reads config.json, the tokenizer files and the
safetensors headers (8-byte little-endian length + JSON) of a checkpoint (and of its PEFT adapter)
and returns a `ModelVerdict`. A checkpoint fails when:
- config.json is missing or unreadable, or declares a `quantization_config`;
- its architecture / model_type is unknown to the installed transformers (custom code is refused);
- no tokenizer is present (tokenizer.json, or tokenizer_config.json plus vocabulary files);
- any floating tensor has a dtype outside `allowed_dtypes`, or any integer / fp8 tensor is not a
  known buffer (position ids, attention masks) — the offending tensor is named;
- a safetensors file is truncated (header longer than the file, data offsets past its end, or a
  tensor's byte range not matching its shape and dtype);
- weights are pytorch `.bin` pickles: their dtypes cannot be verified without unpickling them
  (which also executes code), so `bin_policy='reject'` (default) fails them and `'warn'` passes
  them unverified.
The memory estimate is documented at `estimate_memory_bytes`.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from evalfleet.checks.hf_tables import tables
from evalfleet.types import Dtype, ModelRef

SAFETENSORS_DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3",
    "F8_E5M2": "float8_e5m2",
    "F8_E8M0": "float8_e8m0",
    "F4": "float4",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U64": "uint64",
    "U32": "uint32",
    "U16": "uint16",
    "U8": "uint8",
    "BOOL": "bool",
}
"""safetensors dtype code -> torch-style dtype name."""
ITEMSIZE = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "F8_E8M0": 1,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U64": 8,
    "U32": 4,
    "U16": 2,
    "U8": 1,
    "BOOL": 1,
}
"""Bytes per element (F4 packs two per byte and is never allowed, so it is not sized)."""
BUFFER_PATTERN = re.compile(r"(^|\.)(position_ids|token_type_ids|masked_bias|attn\.bias|attention\.bias)$")
"""Non-parameter buffers some checkpoints store as int64/bool; they are not weights."""
DTYPE_BYTES: dict[Dtype, int] = {"float32": 4, "float16": 2, "bfloat16": 2}
"""Bytes per parameter at each compute dtype (`evalfleet.types.Dtype`), for the memory estimate."""
TOKENIZER_VOCABS = (
    "vocab.json",
    "tokenizer.model",
    "vocab.txt",
    "spiece.model",
    "sentencepiece.bpe.model",
    "tokenizer.tiktoken",
)
"""Vocabulary files that, with tokenizer_config.json, make a tokenizer when tokenizer.json is absent."""
MAX_NAMED = 3
"""Offending tensors named per problem line (the rest are counted)."""


@dataclass(frozen=True)
class ModelVerdict:
    """The outcome of checking one model of one submission."""

    model: str
    """ModelRef.id ('team--family')."""
    ok: bool
    """True when nothing in `problems`: the model may be evaluated."""
    problems: tuple[str, ...]
    """One message per failed check, naming the file (and tensor) at fault."""
    n_params: int | None
    """Floating-point parameters (base + adapter); None when the weights could not be read."""
    est_memory_bytes: int | None
    """Estimated inference memory at the compute dtype (see `estimate_memory_bytes`); None if unknown."""
    dtypes: tuple[str, ...]
    """Distinct tensor dtypes found (torch-style names, sorted)."""
    warnings: tuple[str, ...] = ()
    """Findings that do not fail the model (e.g. unverified .bin weights under bin_policy='warn')."""

    def line(self) -> str:
        """The one-line verdict `evalfleet validate` prints."""
        params = f"{self.n_params / 1e6:.2f}M params" if self.n_params is not None else "params ?"
        memory = f"~{self.est_memory_bytes / 2**30:.2f} GiB" if self.est_memory_bytes is not None else "memory ?"
        head = (
            f"{'OK  ' if self.ok else 'FAIL'} {self.model}: {params}, {memory}, dtypes {','.join(self.dtypes) or '?'}"
        )
        notes = [*self.problems, *(f"warning: {w}" for w in self.warnings)]
        return head + "".join(f"\n       - {n}" for n in notes)


@dataclass(frozen=True)
class TensorInfo:
    """One tensor entry of a safetensors header."""

    name: str
    """Tensor name."""
    dtype: str
    """safetensors dtype code, e.g. 'F16'."""
    numel: int
    """Number of elements (product of the shape)."""
    file: str
    """File it lives in."""


def read_safetensors_header(path: Path) -> tuple[list[TensorInfo], list[str]]:
    """Tensors of one .safetensors file and the integrity problems found (truncation, bad ranges)."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        raw = fh.read(8)
        if len(raw) < 8:
            return [], [f"{path}: truncated safetensors (file has {size} bytes, no header length)"]
        (n,) = struct.unpack("<Q", raw)
        if n > size - 8:
            return [], [f"{path}: truncated safetensors (header says {n} bytes, file has {size})"]
        try:
            header = json.loads(fh.read(n))
        except (ValueError, UnicodeDecodeError) as exc:
            return [], [f"{path}: unreadable safetensors header ({exc})"]
    if not isinstance(header, dict):
        return [], [f"{path}: safetensors header is not a JSON object"]
    data_size = size - 8 - n
    tensors, problems = [], []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype, shape, (begin, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
            numel = 1
            for d in shape:
                numel *= int(d)
        except (KeyError, TypeError, ValueError):
            problems.append(f"{path}: malformed header entry for tensor '{name}'")
            continue
        if end > data_size:
            problems.append(f"{path}: truncated safetensors: tensor '{name}' ends at byte {end}, data has {data_size}")
        elif dtype in ITEMSIZE and end - begin != numel * ITEMSIZE[dtype]:
            problems.append(
                f"{path}: tensor '{name}' occupies {end - begin} bytes, "
                f"shape {shape} {dtype} needs {numel * ITEMSIZE[dtype]}"
            )
        tensors.append(TensorInfo(name, dtype, numel, path.name))
    return tensors, problems


def weight_files(directory: Path, stem: str = "model") -> tuple[list[Path], str, list[str]]:
    """The checkpoint's weight files, their format ('safetensors', 'bin' or ''), and problems.

    `stem` is 'model' for a checkpoint and 'adapter_model' for a PEFT adapter. Sharded
    checkpoints are read through `<stem>.safetensors.index.json`; a shard it names that is
    missing is a problem.
    """
    index = directory / f"{stem}.safetensors.index.json"
    if index.is_file():
        try:
            names = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (ValueError, KeyError, TypeError) as exc:
            return [], "safetensors", [f"{index}: unreadable shard index ({exc})"]
        missing = [n for n in names if not (directory / n).is_file()]
        problems = [f"{index}: shard '{n}' is missing" for n in missing]
        return [directory / n for n in names if n not in missing], "safetensors", problems
    single = directory / f"{stem}.safetensors"
    if single.is_file():
        return [single], "safetensors", []
    loose = sorted(directory.glob("*.safetensors"))
    if loose:
        return loose, "safetensors", []
    bins = sorted(directory.glob("*.bin")) + sorted(directory.glob("*.pt"))
    bins = [p for p in bins if p.name != "training_args.bin"]
    if bins:
        return bins, "bin", []
    return [], "", [f"{directory}: no weights ({stem}.safetensors, its index, or .bin files)"]


def check_tensors(tensors: Iterable[TensorInfo], allowed_dtypes: Sequence[str]) -> list[str]:
    """Problems for tensors whose dtype the rules forbid, naming the first few of each kind."""
    bad: dict[str, list[TensorInfo]] = {}
    for t in tensors:
        name = SAFETENSORS_DTYPES.get(t.dtype, t.dtype)
        if name in allowed_dtypes:
            continue
        if name in ("int64", "bool") and BUFFER_PATTERN.search(t.name):
            continue
        bad.setdefault(name, []).append(t)
    problems = []
    for name, items in sorted(bad.items()):
        named = ", ".join(f"'{t.name}' ({t.file})" for t in items[:MAX_NAMED])
        more = f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else ""
        problems.append(f"{name} tensors are not allowed (allowed: {', '.join(allowed_dtypes)}): {named}{more}")
    return problems


def check_config(directory: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """config.json parsed, and problems: unreadable, quantized, or an architecture transformers lacks."""
    path = directory / "config.json"
    if not path.is_file():
        return None, [f"{path}: missing"]
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        return None, [f"{path}: unreadable JSON ({exc})"]
    if not isinstance(config, dict):
        return None, [f"{path}: not a JSON object"]
    problems = []
    if config.get("quantization_config"):
        method = (
            config["quantization_config"].get("quant_method", "?")
            if isinstance(config["quantization_config"], dict)
            else "?"
        )
        problems.append(
            f"{path}: field 'quantization_config': quantized checkpoints are not allowed (quant_method {method!r})"
        )
    problems += check_architecture(config, path)
    return config, problems


def check_architecture(config: dict[str, Any], path: Path) -> list[str]:
    """The model_type must be a transformers config and every listed architecture a causal LM class."""
    model_types, causal_lm = tables()
    model_type = config.get("model_type")
    if model_type not in model_types:
        custom = (
            " (it ships custom code via auto_map; trust_remote_code is not allowed)" if config.get("auto_map") else ""
        )
        return [f"{path}: field 'model_type': {model_type!r} is unknown to transformers{custom}"]
    known = set(causal_lm.values())
    return [
        f"{path}: field 'architectures': {arch!r} is not a causal-LM architecture of transformers"
        for arch in config.get("architectures") or [causal_lm.get(model_type)]
        if arch not in known
    ]


def has_tokenizer(directory: Path) -> bool:
    """tokenizer.json, or tokenizer_config.json with a vocabulary file beside it."""
    if (directory / "tokenizer.json").is_file():
        return True
    return (directory / "tokenizer_config.json").is_file() and any((directory / v).is_file() for v in TOKENIZER_VOCABS)


def estimate_memory_bytes(
    config: dict[str, Any], n_params: int, dtype: str, *, context_tokens: int = 2048, batch_size: int = 1
) -> int:
    """Weights + KV cache + an activation allowance for one forward pass over `context_tokens`.

    weights = n_params x bytes(dtype)
    kv      = 2 x layers x kv_heads x head_dim x context_tokens x batch x bytes(dtype)
    logits  = context_tokens x batch x vocab x 4            (HF computes full-sequence fp32 logits)
    acts    = 4 x context_tokens x batch x max(hidden, intermediate) x bytes(dtype)
    Framework overhead (CUDA context, allocator fragmentation) is not included; the probe
    measures the real peak. Defaults mirror the edge-llm-2024 probe (2000-token inputs, batch 1).
    """
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    b = DTYPE_BYTES.get(dtype, 4)
    hidden = int(text.get("hidden_size") or text.get("n_embd") or text.get("d_model") or 0)
    heads = int(text.get("num_attention_heads") or text.get("n_head") or 1)
    kv_heads = int(text.get("num_key_value_heads") or heads)
    head_dim = int(text.get("head_dim") or (hidden // heads if heads else 0))
    layers = int(text.get("num_hidden_layers") or text.get("n_layer") or 0)
    inter = int(text.get("intermediate_size") or text.get("n_inner") or 4 * hidden)
    vocab = int(text.get("vocab_size") or 0)
    tokens = context_tokens * batch_size
    kv = 2 * layers * kv_heads * head_dim * tokens * b
    return n_params * b + kv + tokens * vocab * 4 + 4 * tokens * max(hidden, inter) * b


def _inspect_weights(directory: Path, stem: str, allowed: Sequence[str], bin_policy: str):
    """(tensors, problems, warnings) for the weights of a checkpoint or adapter directory."""
    files, fmt, problems = weight_files(directory, stem)
    warnings: list[str] = []
    tensors: list[TensorInfo] = []
    if fmt == "bin":
        msg = (
            f"{files[0]}: pytorch pickle weights; dtypes cannot be verified without unpickling them "
            "(convert with save_pretrained(safe_serialization=True))"
        )
        (problems if bin_policy == "reject" else warnings).append(msg)
    for f in files if fmt == "safetensors" else []:
        found, issues = read_safetensors_header(f)
        tensors += found
        problems += issues
    problems += check_tensors(tensors, allowed)
    return tensors, problems, warnings, fmt


def validate_model(
    ref: ModelRef,
    *,
    allowed_dtypes: Sequence[str],
    bin_policy: str = "reject",
    context_tokens: int = 2048,
) -> ModelVerdict:
    """Check one model (and its adapter) against the rules; never loads weights, never raises on bad files."""
    if bin_policy not in ("reject", "warn"):
        raise ValueError(f"bin_policy must be 'reject' or 'warn', got {bin_policy!r}")
    allowed = tuple(allowed_dtypes)
    base = Path(ref.path)
    if not base.is_dir():
        return ModelVerdict(ref.id, False, (f"{base}: checkpoint directory not found",), None, None, ())
    problems: list[str] = []
    if ref.dtype not in allowed:
        problems.append(f"compute dtype {ref.dtype!r} is not allowed by the edition (allowed: {', '.join(allowed)})")
    config, found = check_config(base)
    problems += found
    tensors, found, warnings, fmt = _inspect_weights(base, "model", allowed, bin_policy)
    problems += found
    adapter = Path(ref.adapter) if ref.adapter else None
    if adapter is not None:
        a_tensors, found, a_warn = _check_adapter(adapter, allowed, bin_policy)
        tensors += a_tensors
        problems += found
        warnings += a_warn
    if not has_tokenizer(base) and not (adapter and adapter.is_dir() and has_tokenizer(adapter)):
        problems.append(
            f"{base}: no tokenizer (tokenizer.json, or tokenizer_config.json with {' / '.join(TOKENIZER_VOCABS)})"
        )
    floating = [t for t in tensors if SAFETENSORS_DTYPES.get(t.dtype, "").startswith(("float", "bfloat"))]
    n_params = sum(t.numel for t in floating) if fmt == "safetensors" else None
    memory = (
        estimate_memory_bytes(config, n_params, ref.dtype, context_tokens=context_tokens)
        if config and n_params
        else None
    )
    dtypes = tuple(sorted({SAFETENSORS_DTYPES.get(t.dtype, t.dtype) for t in tensors}))
    return ModelVerdict(ref.id, not problems, tuple(problems), n_params, memory, dtypes, tuple(warnings))


def _check_adapter(adapter: Path, allowed: Sequence[str], bin_policy: str):
    """(tensors, problems, warnings) of a PEFT adapter directory."""
    config_path = adapter / "adapter_config.json"
    if not config_path.is_file():
        return [], [f"{config_path}: missing (adapter directory)"], []
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        return [], [f"{config_path}: unreadable JSON ({exc})"], []
    problems = []
    if not isinstance(config, dict) or not config.get("peft_type"):
        problems.append(f"{config_path}: field 'peft_type': required")
    tensors, found, warnings, _ = _inspect_weights(adapter, "adapter_model", allowed, bin_policy)
    return tensors, problems + found, warnings


def validate_models(refs: Sequence[ModelRef], *, allowed_dtypes: Sequence[str], **options: Any) -> list[ModelVerdict]:
    """`validate_model` for each ref, in order."""
    return [validate_model(r, allowed_dtypes=allowed_dtypes, **options) for r in refs]
