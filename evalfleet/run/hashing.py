"""Checkpoint hashing as Ray tasks: the `DigestStream` (plan.modelhash) a run joining a cluster hashes with.

A final's checkpoints are terabytes; one driver hashing them at ~1.7 GB/s per core keeps every GPU
waiting for most of an hour. `ray_stream` sends the files to CPU tasks (`num_cpus=1`, SPREAD over the
nodes), packed into batches of about BATCH_BYTES so a checkpoint's small files (config, tokenizer) share
a task and its weight files spread. The files must sit on storage every node sees (the checkpoints'
paths are the same everywhere, as the workers that load them need anyway). Only the driver reads and
writes the digest cache: a task returns digests, `plan.modelhash.fingerprints_as_ready` stores them.

`ray_stream` submits every task at once (in the order of the files: a run lists them model by model) and
yields each task's digests as it finishes, so a model's shards can start as soon as its own files are done;
`ray_hasher` is the same as a `Hasher` (evalfleet.contracts: every digest at once).

A file a task could not read (a node without the mount) or whose task failed comes back as None and is
hashed by the driver itself, so the fingerprints are those of `modelhash.content_digest` in every case.
The embedded mode (no cluster) keeps `modelhash.thread_stream`: Ray tasks on the same cores gain nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import ray

from evalfleet.plan.modelhash import digest_or_none

BATCH_BYTES = 1 << 30
"""Files are packed into one task until their sizes reach this (a larger file is a task of its own)."""


@ray.remote(num_cpus=1)
def _digests(paths: list[str]) -> list[str | None]:
    """`content_digest` of each path on the node this task runs on (None: unreadable there)."""
    return [digest_or_none(Path(p)) for p in paths]


def batches(files: Sequence[Path], limit: int = BATCH_BYTES) -> list[list[int]]:
    """Indices of `files` in consecutive groups of at most `limit` bytes (one file alone when it is larger)."""
    groups: list[list[int]] = []
    size = 0
    for n, file in enumerate(files):
        try:
            length = file.stat().st_size
        except OSError:
            length = 0
        if size + length > limit or not groups:
            groups.append([])
            size = 0
        groups[-1].append(n)
        size += length
    return groups


def ray_stream(files: Sequence[Path]) -> Iterator[tuple[int, str | None]]:
    """(index, digest) of each file as its Ray task finishes, tasks spread over the cluster (Ray must be
    initialized); None for a file its task could not read or whose task failed (the caller hashes it)."""
    task = _digests.options(scheduling_strategy="SPREAD")
    groups = {task.remote([str(Path(files[n]).resolve()) for n in group]): group for group in batches(files)}
    waiting = list(groups)
    while waiting:
        ready, waiting = ray.wait(waiting, num_returns=1)
        for ref in ready:
            group = groups.pop(ref)
            try:
                values = ray.get(ref)
            except Exception:  # the task failed or its node died: the driver hashes these files itself
                values = [None] * len(group)
            yield from zip(group, values)


def ray_hasher(files: Sequence[Path]) -> list[str | None]:
    """The digest of each file, computed in Ray tasks spread over the cluster (Ray must be initialized)."""
    out: list[str | None] = [None] * len(files)
    for n, value in ray_stream(files):
        out[n] = value
    return out
