"""Checkpoint hashing as Ray tasks: the `Hasher` (evalfleet.contracts) a run joining a cluster plans with.

A final's checkpoints are terabytes; one driver hashing them at ~1.7 GB/s per core keeps every GPU
waiting for most of an hour. `ray_hasher` sends the files to CPU tasks (`num_cpus=1`, SPREAD over the
nodes), packed into batches of about BATCH_BYTES so a checkpoint's small files (config, tokenizer) share
a task and its weight files spread. The files must sit on storage every node sees (the checkpoints'
paths are the same everywhere, as the workers that load them need anyway). Only the driver reads and
writes the digest cache: a task returns digests, `plan.modelhash.fingerprints` stores them.

A file a task could not read (a node without the mount) or whose task failed comes back as None and is
hashed by the driver itself, so the fingerprints are those of `modelhash.content_digest` in every case.
The embedded mode (no cluster) keeps `modelhash.thread_hasher`: Ray tasks on the same cores gain nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

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


def ray_hasher(files: Sequence[Path]) -> list[str | None]:
    """The digest of each file, computed in Ray tasks spread over the cluster (Ray must be initialized)."""
    groups = batches(files)
    task = _digests.options(scheduling_strategy="SPREAD")
    refs = [task.remote([str(Path(files[n]).resolve()) for n in group]) for group in groups]
    out: list[str | None] = [None] * len(files)
    for group, ref in zip(groups, refs):
        try:
            values = ray.get(ref)
        except Exception:  # the task failed or its node died: the driver hashes these files itself
            continue
        for n, value in zip(group, values):
            out[n] = value
    return out
