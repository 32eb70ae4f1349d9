"""Fingerprint of a checkpoint directory: sha256 over config.json and every weight / tokenizer file.

Hashing a multi-gigabyte checkpoint takes a while, so each file's digest is cached by
(absolute path, size, mtime) in a plain dict the caller loads and saves (the store keeps it in
`RESULTS/.cache/model-hashes.json`). A rewritten file changes size or mtime and is hashed again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import MutableMapping

from evalfleet.errors import EvalfleetError

HASHED_SUFFIXES = (".json", ".safetensors", ".bin", ".model", ".txt", ".tiktoken", ".py", ".jinja")
"""Files of a checkpoint directory that can change its outputs (weights, configs, tokenizer, remote code)."""
_CHUNK = 1 << 22


def file_digest(path: Path, cache: MutableMapping[str, str] | None = None) -> str:
    """sha256 of one file's content, looked up in / stored into `cache` by path, size and mtime."""
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    if cache is not None and key in cache:
        return cache[key]
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    value = digest.hexdigest()
    if cache is not None:
        cache[key] = value
    return value


def checkpoint_files(directory: Path) -> list[Path]:
    """The files that enter the fingerprint, sorted by name (subdirectories included, hidden ones not)."""
    files = []
    for root, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        files += [Path(root) / n for n in names if n.endswith(HASHED_SUFFIXES) and not n.startswith(".")]
    return sorted(files, key=lambda p: p.relative_to(directory).as_posix())


def fingerprint(path: str | Path, cache: MutableMapping[str, str] | None = None) -> str:
    """sha256 over (relative name, content digest) of every checkpoint file; EvalfleetError if unusable."""
    directory = Path(path)
    if not directory.is_dir():
        raise EvalfleetError("checkpoint directory not found", source=str(directory), field="path")
    if not (directory / "config.json").is_file() and not (directory / "adapter_config.json").is_file():
        raise EvalfleetError("no config.json in the checkpoint directory", source=str(directory), field="path")
    digest = hashlib.sha256()
    for file in checkpoint_files(directory):
        digest.update(f"{file.relative_to(directory).as_posix()}\0{file_digest(file, cache)}\n".encode())
    return digest.hexdigest()
