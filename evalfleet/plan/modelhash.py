"""Fingerprint of a checkpoint directory: sha256 over config.json and every weight / tokenizer file.

Hashing a multi-gigabyte checkpoint takes a while, so each file's digest is cached by
(absolute path, size, mtime) in a plain dict the caller loads and saves (the store keeps it in
`RESULTS/.cache/model-hashes.json`). A rewritten file changes size or mtime and is hashed again.

`fingerprints` does many checkpoints at once: every file not in the cache is hashed by a `Hasher`
(`evalfleet.contracts`), the cache is read and written by the calling thread only. The digests equal
`fingerprint`'s. The default, `thread_hasher`, hashes in a thread pool of this process (hashlib's sha256
releases the GIL on large buffers, and reading overlaps with hashing).

`fingerprints_as_ready` does the same for groups of paths (a model's checkpoint and adapter) and yields each
group as soon as its own files are hashed, so a run starts a model's shards while later checkpoints are still
being read. Its files are hashed by a `DigestStream`, which yields each file's digest as it finishes:
`thread_stream` (threads here), `evalfleet.run.hashing.ray_stream` (Ray tasks spread over a cluster's nodes), or
any `Hasher` through `hasher_stream` (all digests at once).
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Iterable, Iterator, MutableMapping, Sequence

from evalfleet.contracts import Hasher
from evalfleet.errors import EvalfleetError

HASHED_SUFFIXES = (".json", ".safetensors", ".bin", ".model", ".txt", ".tiktoken", ".py", ".jinja")
"""Files of a checkpoint directory that can change its outputs (weights, configs, tokenizer, remote code)."""
_CHUNK = 1 << 22

DigestStream = Callable[[Sequence[Path]], Iterator[tuple[int, "str | None"]]]
"""Content digests of many files, yielded as (index in the files given, sha256 hex digest or None when the file
could not be hashed) in the order they finish; each index at most once (an index never yielded counts as None)."""


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
    stream = hasher_stream(hasher or thread_hasher(jobs))
    return {p: fp for _, found in fingerprints_as_ready([paths], cache, stream) for p, fp in found.items()}


def fingerprints_as_ready(
    groups: Sequence[Sequence[str | Path]], cache: MutableMapping[str, str] | None, stream: DigestStream
) -> Iterator[tuple[int, dict[str, str | Exception]]]:
    """(group index, {str(path): fingerprint or its error}) for each group of paths, yielded as soon as every
    file of the group is hashed: first the groups the cache holds entirely (in order), then the others as the
    `stream` finishes their files. The files the cache lacks go to one `stream` call in group order (each key
    once, shared files too); digests are stored into `cache` as they arrive (by the calling thread only)."""
    cache = {} if cache is None else cache
    listed: dict[str, tuple[Path, list[Path]] | Exception] = {}
    for path in (str(p) for group in groups for p in group):
        if path not in listed:
            try:
                listed[path] = checked_files(path)
            except (EvalfleetError, OSError) as exc:
                listed[path] = exc
    todo: dict[str, Path] = {}  # cache key -> file, in group order
    waiting: list[set[str]] = []  # per group: the keys it still needs
    for group in groups:
        keys = set()
        for file in (f for p in group if not isinstance(listed[str(p)], Exception) for f in listed[str(p)][1]):
            try:
                key = cache_key(file)
            except OSError:
                continue  # `combine` raises its OSError for its checkpoint
            if key not in cache:
                keys.add(key)
                todo.setdefault(key, file)
        waiting.append(keys)

    def found(n: int) -> dict[str, str | Exception]:
        return {str(p): _combined(listed[str(p)], cache) for p in groups[n]}

    left = set(range(len(groups)))
    for n in range(len(groups)):
        if not waiting[n]:
            left.discard(n)
            yield n, found(n)
    owners: dict[str, list[int]] = {}
    for n in sorted(left):
        for key in waiting[n]:
            owners.setdefault(key, []).append(n)
    keys = list(todo)
    for index, value in stream(list(todo.values())) if todo else ():
        key = keys[index]
        if value is not None:
            cache[key] = value
        for n in owners.get(key, ()):
            waiting[n].discard(key)
            if not waiting[n] and n in left:
                left.discard(n)
                yield n, found(n)
    for n in sorted(left):  # files the stream left out are hashed here by `combine`
        yield n, found(n)


def _combined(listed: tuple[Path, list[Path]] | Exception, cache: MutableMapping[str, str]) -> str | Exception:
    """`combine` of a listed checkpoint (a file the cache lacks is hashed here), or its error."""
    if isinstance(listed, Exception):
        return listed
    try:
        return combine(*listed, cache)
    except OSError as exc:
        return exc


def thread_hasher(jobs: int | None = None) -> Hasher:
    """A Hasher running `content_digest` in `jobs` threads of this process (default: one per core)."""

    def digests(files: Sequence[Path]) -> list[str | None]:
        with ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1)) as pool:
            return list(pool.map(digest_or_none, files))

    return digests


def thread_stream(jobs: int | None = None) -> DigestStream:
    """A DigestStream running `content_digest` in `jobs` threads of this process (default: one per core); files
    start in the order given. Closing the iterator early cancels the files not started."""

    def stream(files: Sequence[Path]) -> Iterator[tuple[int, str | None]]:
        pool = ThreadPoolExecutor(max_workers=max(1, jobs or os.cpu_count() or 1), thread_name_prefix="evalfleet-hash")
        try:
            futures = {pool.submit(digest_or_none, f): n for n, f in enumerate(files)}
            for future in as_completed(futures):
                yield futures[future], future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    return stream


def hasher_stream(hasher: Hasher) -> DigestStream:
    """A `Hasher` (every digest at once) as a DigestStream: all its digests arrive when it returns."""

    def stream(files: Sequence[Path]) -> Iterator[tuple[int, str | None]]:
        yield from enumerate(hasher(files))

    return stream


def digest_or_none(path: Path) -> str | None:
    """`content_digest(path)`, None when the file cannot be read."""
    try:
        return content_digest(path)
    except OSError:
        return None
