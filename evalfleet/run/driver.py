"""The driver: one `ray.wait` loop feeding ModelWorker actors, writing finished shards to the store.

Thin Ray layer over `schedule.Scheduler`: per-shard try/except; a worker that died
(RayActorError) is replaced and its shards requeued; a shard that raised is retried on another
worker up to `max_retries`, then logged as failed and not written (the next run retries it).
Tasks whose module sets SCORE_ON_CPU_TASK are scored in Ray CPU tasks (`num_cpus=1`, chunks of
rows) before their shard is written; `sandbox='strict'` reaches those tasks as an argument (so it holds on
remote clusters too). A scoring task that raises or dies is resubmitted up to SCORE_RETRIES times, then its
rows are written with `error` set (the generations are kept). Only this loop writes to the store; stored fingerprints are
skipped, so running again resumes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

import pyarrow as pa
import ray

from evalfleet.run.evaluate import score_rows, scores_on_cpu
from evalfleet.run.schedule import Job, Scheduler
from evalfleet.run.worker import ModelWorker
from evalfleet.store.results import RECORD_SCHEMA, ResultStore
from evalfleet.types import Item, Shard, TaskSpec

SCORE_CHUNK = 32
"""Rows per CPU scoring task."""
SCORE_RETRIES = 2
"""Resubmissions of a scoring task that raised or whose worker died, before its rows are recorded as errors."""


@dataclass(frozen=True)
class RunSummary:
    """What one run did."""

    total: int
    """Shards in the plan."""
    run: int
    """Shards computed and stored by this run."""
    skipped: int
    """Shards already stored (resume)."""
    failed: tuple[str, ...]
    """'task model #index: last error' for each shard given up after its retries."""
    retries: int
    """Shard attempts that failed or were lost with a worker and were requeued."""
    workers_lost: int
    """Worker actors that died and were replaced."""
    seconds: float
    """Wall time of the loop."""


@ray.remote(num_cpus=1, max_retries=0)
def _score_chunk(rows: list[dict], spec, items: dict, sandbox: str = "auto") -> list[dict]:
    """Score rows of a SCORE_ON_CPU_TASK task (the module runs untrusted code through its sandbox)."""
    return score_rows(rows, with_sandbox(spec, sandbox), items)


def with_sandbox(spec: TaskSpec, sandbox: str) -> TaskSpec:
    """`spec` with option sandbox='strict' when the run asks for it (the modules read the option)."""
    if sandbox != "strict" or spec.options.get("sandbox") == "strict":
        return spec
    return replace(spec, options={**spec.options, "sandbox": "strict"})


def default_workers() -> int:
    """One worker per GPU Ray reports, else one per 2 CPUs (at least 1)."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    return gpus if gpus else max(1, int(resources.get("CPU", 1)) // 2)


def worker_resources(backend_options: Mapping[str, Any] | None) -> dict:
    """Actor resources: the engine's GPUs where Ray has GPUs, else one CPU."""
    if ray.cluster_resources().get("GPU", 0) > 0:
        return {"num_gpus": int((backend_options or {}).get("tensor_parallel_size", 1)), "num_cpus": 0}
    return {"num_cpus": 1}


def run_shards(
    shards: Sequence[Shard],
    items: Mapping[str, Mapping[str, Item]],
    store: ResultStore,
    *,
    backend: str = "hf",
    backend_options: Mapping[str, Any] | None = None,
    batch_size: int = 8,
    workers: int | None = None,
    in_flight: int = 2,
    max_retries: int = 2,
    progress: Any = None,
    sandbox: str = "auto",
) -> RunSummary:
    """Evaluate every shard not yet in `store` on a pool of ModelWorker actors (Ray must be initialized).

    `items[task_id][item_id]` are the tasks' items (loaded once on the driver); `progress`, when
    given, gets `start(shards)`, `advance(shard, n_items)`, `stop()`; `sandbox` ('auto' | 'strict') is
    the run config's sandbox mode, passed to the CPU scoring tasks.
    """
    t_start = time.perf_counter()
    todo = [s for s in shards if not store.has(s.fingerprint)]
    by_key = {s.fingerprint: s for s in todo}
    todo = list(by_key.values())
    n_workers = max(1, min(workers or default_workers(), len(todo))) if todo else 0  # nothing to run: no Ray needed
    store.log(
        {
            "event": "start",
            "shards": len(shards),
            "to_run": len(todo),
            "skipped": len(shards) - len(todo),
            "workers": n_workers,
        }
    )
    sched = Scheduler(
        [Job(s.fingerprint, s.model.id, s.cost) for s in todo], in_flight=in_flight, max_retries=max_retries
    )
    resources = worker_resources(backend_options) if todo else {}
    actors: dict[str, Any] = {}
    pending: dict[Any, tuple] = {}
    scoring: dict[str, dict] = {}
    last_error: dict[str, str] = {}
    stats = {"run": 0, "retries": 0, "lost": 0, "n": 0}

    def start_worker(*, when_ready: bool = False) -> None:
        name = f"w{stats['n']}"
        stats["n"] += 1
        actors[name] = ModelWorker.options(name=f"evalfleet-{store.run_id}-{name}", **resources).remote(
            backend, dict(backend_options or {}), batch_size
        )
        if when_ready:  # a replacement joins the scheduler only once Ray has placed it (its node may be gone for good)
            pending[actors[name].__ray_ready__.remote()] = ("ready", name, "")
        else:
            sched.add_worker(name)

    def describe(key: str) -> str:
        s = by_key[key]
        return f"{s.task.id} {s.model.id} #{s.index}"

    def finish(key: str, table: pa.Table, seconds: float, worker: str) -> None:
        shard = by_key[key]
        entry = store.write_shard(shard, table, seconds)
        stats["run"] += 1
        store.log(
            {
                "event": "shard_done",
                "fingerprint": key,
                "task": shard.task.id,
                "model": shard.model.id,
                "index": shard.index,
                "rows": entry["n_rows"],
                "errors": entry["n_errors"],
                "seconds": round(seconds, 4),
                "worker": worker,
            }
        )
        if progress:
            progress.advance(shard, len(shard.item_ids))

    def failure(key: str, exc: BaseException) -> None:
        last_error[key] = f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"[:500]

    def submit_score(key: str, n: int) -> None:
        job = scoring[key]
        chunk = job["rows"][n]
        task_items = items[by_key[key].task.id]
        subset = {r["item_id"]: task_items[r["item_id"]] for r in chunk}
        ref = _score_chunk.options(scheduling_strategy="SPREAD").remote(chunk, by_key[key].task, subset, sandbox)
        pending[ref] = ("score", n, key)

    def log_retry(key: str, requeued: bool, worker: str) -> None:
        event = "shard_retry" if requeued else "shard_failed"
        stats["retries"] += requeued
        shard = by_key[key]
        store.log(
            {
                "event": event,
                "fingerprint": key,
                "task": shard.task.id,
                "model": shard.model.id,
                "index": shard.index,
                "worker": worker,
                "error": last_error.get(key, ""),
            }
        )

    for _ in range(n_workers):
        start_worker()
    if progress:
        progress.start(todo)
    while True:
        for name in list(actors):
            if name not in sched.workers:
                continue
            for key in sched.assign(name):
                shard = by_key[key]
                task_items = items[shard.task.id]
                ref = actors[name].run.remote(shard, [task_items[i] for i in shard.item_ids])
                pending[ref] = ("run", name, key)
        if not pending or (sched.finished and all(v[0] == "ready" for v in pending.values())):
            break
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
        if progress:
            progress.refresh()
        for ref in ready:
            if ref not in pending:
                continue
            kind, name, key = pending.pop(ref)
            if kind == "ready":
                try:
                    ray.get(ref)
                    sched.add_worker(name)
                except Exception:  # it could not start: drop it, the others carry on
                    actors.pop(name, None)
                continue
            if kind == "score":
                job = scoring[key]
                try:
                    job["chunks"][name] = ray.get(ref)
                except Exception as exc:  # the scoring task raised or its worker died: retry, then record errors
                    job["tries"][name] += 1
                    store.log(
                        {
                            "event": "score_retry" if job["tries"][name] <= SCORE_RETRIES else "score_failed",
                            "fingerprint": key,
                            "chunk": name,
                            "error": f"{type(exc).__name__}",
                        }
                    )
                    if job["tries"][name] <= SCORE_RETRIES:
                        submit_score(key, name)
                        continue
                    job["chunks"][name] = [
                        {**r, "error": f"score task: {type(exc).__name__}", "score": 0.0} for r in job["rows"][name]
                    ]
                job["left"] -= 1
                if job["left"] == 0:
                    del scoring[key]
                    rows = [r for chunk in job["chunks"] for r in chunk]
                    finish(key, pa.Table.from_pylist(rows, schema=RECORD_SCHEMA), job["seconds"], job["worker"])
                continue
            try:
                table, seconds = ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                failure(key, exc)
                stats["lost"] += 1
                lost_keys = sched.queued(name)
                requeued = set(sched.worker_lost(name))
                for other, value in list(pending.items()):
                    if value[0] == "run" and value[1] == name:
                        del pending[other]
                for k in lost_keys:
                    last_error.setdefault(k, f"worker {name} died")
                    log_retry(k, k in requeued, name)
                dead = actors.pop(name)
                try:
                    ray.kill(dead, no_restart=True)
                except Exception:
                    pass
                start_worker(when_ready=True)
                continue
            except Exception as exc:  # the shard raised inside the worker
                failure(key, exc)
                log_retry(key, sched.failed(name, key), name)
                continue
            sched.done(name, key)
            shard = by_key[key]
            if scores_on_cpu(shard.task):
                rows = table.to_pylist()
                chunks = [rows[i : i + SCORE_CHUNK] for i in range(0, len(rows), SCORE_CHUNK)] or [[]]
                scoring[key] = {
                    "chunks": [None] * len(chunks),
                    "rows": chunks,
                    "left": len(chunks),
                    "seconds": seconds,
                    "worker": name,
                    "tries": [0] * len(chunks),
                }
                for n in range(len(chunks)):
                    submit_score(key, n)
            else:
                finish(key, table, seconds, name)
    for actor in actors.values():
        ray.kill(actor)
    if progress:
        progress.stop()
    failed = tuple(f"{describe(k)}: {last_error.get(k, '')}" for k in sched.given_up)
    summary = RunSummary(
        total=len(shards),
        run=stats["run"],
        skipped=len(shards) - len(todo),
        failed=failed,
        retries=stats["retries"],
        workers_lost=stats["lost"],
        seconds=time.perf_counter() - t_start,
    )
    store.log(
        {
            "event": "end",
            "run": summary.run,
            "skipped": summary.skipped,
            "failed": len(failed),
            "retries": summary.retries,
            "workers_lost": summary.workers_lost,
            "seconds": round(summary.seconds, 3),
        }
    )
    return summary
