"""Task scores of a results root computed in worker processes, a share of the (task, model) groups each.

Scoring a final is Python work per group (each benchmark module's `aggregate` over pandas) on top of
reading the files; one process keeps one core busy while pyarrow reads ahead in a thread. Above
PARALLEL_MIN_ROWS stored rows, `store_task_scores` splits the groups into contiguous chunks of about
equal rows and scores them in `jobs` spawned processes, each reading its own groups (only the scoring
columns) from the root: the same frame as `grouped_task_scores(store.record_groups(...))`, memory
bounded by two groups per process. Missing or damaged shards are collected from every worker and refuse
together (or, with `allow_missing`, are left out and named in the store's notes), as in one process.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import pandas as pd

from evalfleet.scoring.task_scores import SCORING_COLUMNS, grouped_task_scores, scored_groups, scores_frame
from evalfleet.store.manifest import MANIFEST
from evalfleet.store.results import DamagedShardsError, ResultStore

PARALLEL_MIN_ROWS = 200_000
"""Below this many stored rows one process scores (starting a worker costs ~2 s of imports)."""
CHUNKS_PER_JOB = 8
"""Chunks per worker: a slow chunk (a task with costly aggregates) does not leave the other workers idle."""

Groups = list[tuple[tuple[str, str], list[dict]]]


def store_task_scores(
    store: ResultStore, *, allow_missing: bool = False, jobs: int | None = None, min_rows: int = PARALLEL_MIN_ROWS
) -> pd.DataFrame:
    """The task-score frame of every stored group (`jobs` worker processes, default one per core, when the
    store holds at least `min_rows` rows). DamagedShardsError as `ResultStore.record_groups` raises it."""
    jobs = jobs or os.cpu_count() or 1
    groups = list(store.groups().items())
    rows = sum(e.get("n_rows", 0) for _, entries in groups for e in entries)
    if jobs <= 1 or len(groups) < 2 or rows < min_rows:
        return grouped_task_scores(store.record_groups(SCORING_COLUMNS, allow_missing=allow_missing))
    chunks = split_by_rows(groups, jobs * CHUNKS_PER_JOB)
    scored, refused = [], []
    context = multiprocessing.get_context("spawn")  # the parent may hold pyarrow's threads: no fork
    with ProcessPoolExecutor(max_workers=min(jobs, len(chunks)), mp_context=context) as pool:
        for part, skipped, bad in pool.map(
            score_chunk, [store.root] * len(chunks), chunks, [allow_missing] * len(chunks)
        ):
            scored += part
            store.skipped += skipped
            refused += bad
    if refused:
        hint = "; or score without them: `evalfleet score --allow-missing`"
        raise DamagedShardsError(refused, source=store.path(MANIFEST), hint=hint)
    return scores_frame(scored)


def score_chunk(root: str, groups: Groups, allow_missing: bool) -> tuple[list, list, list]:
    """(scored groups, shards left out, shards refused) of one worker's share, read from `root`."""
    store = ResultStore(root)
    try:
        scored = scored_groups(store.record_groups(SCORING_COLUMNS, allow_missing=allow_missing, groups=groups))
    except DamagedShardsError as exc:  # raised once every group was read: the other groups are scored too
        return [], store.skipped, exc.problems
    return scored, store.skipped, []


def split_by_rows(groups: Groups, parts: int) -> list[Groups]:
    """`groups` cut, in order, into at most `parts` contiguous chunks of about equal stored rows."""
    total = sum(e.get("n_rows", 0) for _, entries in groups for e in entries) or 1
    chunks: list[Groups] = [[]]
    done = 0
    for key, entries in groups:
        if chunks[-1] and done >= total * len(chunks) / parts:
            chunks.append([])
        chunks[-1].append((key, entries))
        done += sum(e.get("n_rows", 0) for e in entries)
    return chunks
