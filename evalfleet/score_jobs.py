"""Task scores of a results root computed in worker processes, a share of the (task, model) groups each.

Scoring a final is Python work per group (each benchmark module's `aggregate` over pandas) on top of
reading the files; one process keeps one core busy while pyarrow reads ahead in a thread. Above
PARALLEL_MIN_ROWS stored rows, `store_task_scores` cuts the groups into contiguous chunks of about equal
rows and hands them, one at a time, to `jobs` worker processes (`python -m evalfleet.score_jobs`: plain
subprocesses fed pickled chunks on stdin, so the caller's own script is never imported again, as
multiprocessing's spawn would); each reads its groups (only the scoring columns) from the root. The same
frame as `grouped_task_scores(store.record_groups(...))`, memory bounded by two groups per process.
Missing or damaged shards are collected from every worker and refuse together (or, with `allow_missing`,
are left out and named in the store's notes), as in one process; a worker that dies is an EvalfleetError.
`store_items` does the same for the confidence bootstrap's per-item cells (`collect_cells` per chunk, the
chunks' cells merged: the same cells as one process's).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pandas as pd

import evalfleet
from evalfleet.errors import EvalfleetError
from evalfleet.scoring.confidence_draws import (
    CELL_COLUMNS,
    NEEDED,
    RecordedItems,
    collect_cells,
    collect_items,
    task_metrics,
)
from evalfleet.scoring.task_scores import SCORING_COLUMNS, grouped_task_scores, scored_groups, scores_frame
from evalfleet.store.results import DamagedShardsError, ResultStore

PARALLEL_MIN_ROWS = 200_000
"""Below this many stored rows one process scores (starting a worker costs ~2 s of imports)."""
DEFAULT_JOBS = 4
"""Workers when `jobs` is not given: one per core, at most this many (each holds ~250-400 MiB: interpreter,
pandas, pyarrow and two groups; more cores than this would add memory faster than speed)."""
CHUNKS_PER_JOB = 8
"""Chunks per worker: a slow chunk (a task with costly aggregates) does not leave the other workers idle."""

Groups = list[tuple[tuple[str, str], list[dict]]]


def store_task_scores(
    store: ResultStore, *, allow_missing: bool = False, jobs: int | None = None, min_rows: int = PARALLEL_MIN_ROWS
) -> pd.DataFrame:
    """The task-score frame of every stored group (`jobs` worker processes, default one per core up to
    DEFAULT_JOBS, when the store holds at least `min_rows` rows). DamagedShardsError as `record_groups` raises."""
    chunks = worker_chunks(store, jobs, min_rows)
    if chunks is None:
        return grouped_task_scores(store.record_groups(SCORING_COLUMNS, allow_missing=allow_missing))
    scored, refused = [], []
    for part, skipped, bad in in_workers([(score_chunk, (store.root, c, allow_missing)) for c in chunks], jobs):
        scored += part
        store.skipped += skipped
        refused += bad
    store.refuse_scoring(refused)
    return scores_frame(scored)


def store_items(
    store: ResultStore,
    scores: pd.DataFrame,
    *,
    allow_missing: bool = False,
    jobs: int | None = None,
    min_rows: int = PARALLEL_MIN_ROWS,
) -> RecordedItems:
    """The bootstrap's per-item cells of every stored group (`collect_items`), in worker processes as
    `store_task_scores` (each worker's cells merged in chunk order); a task's whole rows read on demand here."""
    skip = {"skip_missing": allow_missing, "skip_damaged": allow_missing}
    rows = lambda task: store.read_records([task], columns=list(NEEDED), **skip)  # noqa: E731
    chunks = worker_chunks(store, jobs, min_rows)
    if chunks is None:
        return collect_items(store.record_groups(CELL_COLUMNS, allow_missing=allow_missing), scores, rows)
    metrics = task_metrics(scores)
    cells: dict = {}
    refused = []
    for found, bad in in_workers([(cells_chunk, (store.root, c, allow_missing, metrics)) for c in chunks], jobs):
        refused += bad
        for task, part in found.items():
            if task in cells:
                cells[task].merge(part)
            else:
                cells[task] = part
    store.refuse_scoring(refused)
    return RecordedItems(cells, rows)


def default_jobs(jobs: int | None) -> int:
    """`jobs`, or one per core up to DEFAULT_JOBS."""
    return jobs or min(os.cpu_count() or 1, DEFAULT_JOBS)


def worker_chunks(store: ResultStore, jobs: int | None, min_rows: int) -> list[Groups] | None:
    """The stored groups cut into chunks for `jobs` workers; None when one process does it (one job, one group,
    fewer rows than `min_rows`)."""
    jobs = default_jobs(jobs)
    groups = list(store.groups().items())
    rows = sum(e.get("n_rows", 0) for _, entries in groups for e in entries)
    if jobs <= 1 or len(groups) < 2 or rows < min_rows:
        return None
    return split_by_rows(groups, jobs * CHUNKS_PER_JOB)


def score_chunk(root: str, groups: Groups, allow_missing: bool) -> tuple[list, list, list]:
    """(scored groups, shards left out, shards refused) of one worker's share, read from `root`."""
    store = ResultStore(root)
    try:
        scored = scored_groups(store.record_groups(SCORING_COLUMNS, allow_missing=allow_missing, groups=groups))
    except DamagedShardsError as exc:  # raised once every group was read: the other groups are scored too
        return [], store.skipped, exc.problems
    return scored, store.skipped, []


def cells_chunk(root: str, groups: Groups, allow_missing: bool, metrics: dict) -> tuple[dict, list]:
    """(task id -> the cells of this share's models, shards refused) of one worker's share, read from `root`."""
    store = ResultStore(root)
    try:
        return collect_cells(store.record_groups(CELL_COLUMNS, allow_missing=allow_missing, groups=groups), metrics), []
    except DamagedShardsError as exc:
        return {}, exc.problems


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


def in_workers(requests: list[tuple], jobs: int | None) -> list:
    """`fn(*args)` of every (fn, args) request (fn: a module-level function), in order, computed by `jobs` worker
    processes (default `default_jobs`; each takes the next request when it has answered one)."""
    jobs = default_jobs(jobs)
    todo: queue.Queue = queue.Queue()
    for n, request in enumerate(requests):
        todo.put((n, request))
    answers: dict[int, tuple] = {}
    failures: list[str] = []
    threads = [threading.Thread(target=_feed, args=(todo, answers, failures)) for _ in range(min(jobs, len(requests)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise EvalfleetError(f"a scoring worker process failed: {failures[0]}")
    return [answers[n] for n in range(len(requests))]


def _feed(todo: queue.Queue, answers: dict, failures: list) -> None:
    """Start one worker process and feed it requests until none is left (or a worker failed)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(evalfleet.__file__).parents[1]), *sys.path])}
    worker = subprocess.Popen(
        [sys.executable, "-m", "evalfleet.score_jobs"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    )
    try:
        while not failures:
            try:
                n, request = todo.get_nowait()
            except queue.Empty:
                break
            pickle.dump(request, worker.stdin)
            worker.stdin.flush()
            ok, answer = pickle.load(worker.stdout)
            if not ok:
                failures.append(answer)
                break
            answers[n] = answer
    except (EOFError, OSError, pickle.UnpicklingError) as exc:
        try:
            failures.append(f"it died (exit status {worker.wait(timeout=10)})")
        except subprocess.TimeoutExpired:
            failures.append(f"{type(exc).__name__}: {exc}")
    finally:
        with contextlib.suppress(OSError):
            worker.stdin.close()
        worker.wait()


def serve() -> None:
    """A worker process: answer each pickled (fn, args) request on stdin with (True, fn(*args)) or (False, the
    error) pickled on stdout (anything printed meanwhile goes to stderr)."""
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    while True:
        try:
            request = pickle.load(requests)
        except EOFError:
            return
        fn, args = request
        try:
            reply = (True, fn(*args))
        except Exception as exc:  # noqa: BLE001 - named in the caller's error
            reply = (False, f"{type(exc).__name__}: {exc}")
        pickle.dump(reply, replies)
        replies.flush()


if __name__ == "__main__":
    serve()
