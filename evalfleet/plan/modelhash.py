"""Fingerprint of a checkpoint directory: sha256 over config.json and every weight / tokenizer file.

Hashing a multi-gigabyte checkpoint takes a while, so each file's digest is cached by
(absolute path, size, mtime) in a plain dict the caller loads and saves (the store keeps it in
`RESULTS/.cache/model-hashes.json`). A rewritten file changes size or mtime and is hashed again.

`fingerprints` does many checkpoints at once: every file not in the cache is hashed by a `Hasher`
(`evalfleet.contracts`), the cache is read and written by the calling thread only. The digests equal
`fingerprint`'s. The default, `thread_hasher`, hashes in a thread pool of this process (hashlib's sha256
releases the GIL on large buffers, and reading overlaps with hashing); a run that joins a cluster passes
`evalfleet.run.hashing.ray_hasher` (Ray tasks spread over the nodes) instead.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable, MutableMapping, Sequence

from evalfleet.contracts import Hasher
from evalfleet.errors import EvalfleetError

HASHED_SUFFIXES = (".json", ".safetensors", ".bin", ".model", ".txt", ".tiktoken", ".py", ".jinja")
"""Files of a checkpoint directory that can change its outputs (weights, configs, tokenizer, remote code)."""
_CHUNK = 1 << 22


def cache_key(path: Path) -> str:
    """'absolute path|size|mtime_ns': a file's key in the digest cache."""
    st = path.stat()
    return f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"


def content_digest(path: Path) -> str:
    """sha256 of one file's content (no cache)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_digest(path: Path, cache: MutableMapping[str, str] | None = None) -> str:
    """sha256 of one file's content, looked up in / stored into `cache` by path, size and mtime."""
    key = cache_key(path)
    if cache is not None and key in cache:
        return cache[key]
    value = content_digest(path)
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


def checked_files(path: str | Path) -> tuple[Path, list[Path]]:
    """(directory, its checkpoint files); EvalfleetError when it is no checkpoint directory."""
    directory = Path(path)
    if not directory.is_dir():
        raise EvalfleetError("checkpoint directory not found", source=str(directory), field="path")
    if not (directory / "config.json").is_file() and not (directory / "adapter_config.json").is_file():
        raise EvalfleetError("no config.json in the checkpoint directory", source=str(directory), field="path")
    return directory, checkpoint_files(directory)


def combine(directory: Path, files: list[Path], cache: MutableMapping[str, str] | None) -> str:
    """sha256 over (relative name, content digest) of `files` (digests from `cache` where it has them)."""
    digest = hashlib.sha256()
    for file in files:
        digest.update(f"{file.relative_to(directory).as_posix()}\0{file_digest(file, cache)}\n".encode())
    return digest.hexdigest()


def fingerprint(path: str | Path, cache: MutableMapping[str, str] | None = None) -> str:
    """sha256 over (relative name, content digest) of every checkpoint file; EvalfleetError if unusable."""
    return combine(*checked_files(path), cache)


def fingerprints(
    paths: Iterable[str | Path],
    cache: MutableMapping[str, str] | None = None,
    jobs: int | None = None,
    *,
    hasher: Hasher | None = None,
) -> dict[str, str | Exception]:
    """`fingerprint` of each path (by str(path)), the files not in `cache` hashed by `hasher` (default:
    `thread_hasher(jobs)`, one thread per core). A path that cannot be fingerprinted maps to the
    EvalfleetError or OSError `fingerprint` raises for it; the others are still done."""
    paths = [str(p) for p in paths]
    cache = {} if cache is None else cache
    out: dict[str, str | Exception] = {}
    listed: dict[str, tuple[Path, list[Path]]] = {}
    for path in dict.fromkeys(paths):
        try:
            listed[path] = checked_files(path)
        except (EvalfleetError, OSError) as exc:
            out[path] = exc
    files = [f for _, found in listed.values() for f in found]
    _hash_into(cache, files, hasher or thread_hasher(jobs))
    for path, (directory, found) in listed.items():
        try:
            out[path] = combine(directory, found, cache)  # a file the hasher left out is hashed here
        except OSError as exc:
            out[path] = exc
    return {p: out[p] for p in paths}


def thread_hasher(jobs: int | None = None) -> Hasher:
    """A Hasher running `content_digest` in `jobs` threads of this process (default: one per core)."""

    def digests(files: Sequence[Path]) -> list[str | None]:
        with ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1)) as pool:
            return list(pool.map(digest_or_none, files))

    return digests


def _hash_into(cache: MutableMapping[str, str], files: list[Path], hasher: Hasher) -> None:
    """Hash every file whose key `cache` lacks (each key once) with `hasher` and store its digest; files it
    could not hash are left out (`combine` then hashes them here, or raises their OSError for their checkpoint)."""
    todo: dict[str, Path] = {}
    for file in files:
        try:
            key = cache_key(file)
        except OSError:
            continue
        if key not in cache:
            todo.setdefault(key, file)
    if not todo:
        return
    for key, value in zip(todo, hasher(list(todo.values())), strict=True):
        if value is not None:
            cache[key] = value


def digest_or_none(path: Path) -> str | None:
    """`content_digest(path)`, None when the file cannot be read."""
    try:
        return content_digest(path)
    except OSError:
        return None
