"""The one Ray actor class: a ModelWorker holds one loaded backend and evaluates shards of it.

It loads a model when a shard of another model arrives (closing the previous one once no shard of it is
running), so the scheduler's model affinity decides how often models are loaded.

A batched backend (hf: the reference's batch semantics) runs one shard at a time, in batches of
`batch_size`. An engine-fed backend (vllm) runs several shards at once: the driver starts its actor with
`max_concurrency` above its queue depth, every `run` call runs in its own thread and sends its whole shard
to the backend, whose one engine batches the requests of all shards in flight continuously; each call
returns (its ObjectRef resolves) as soon as its own shard's last request finishes.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Sequence

import pyarrow as pa
import ray

from evalfleet.backends import load_backend
from evalfleet.plan.environment import environment_record
from evalfleet.plan.shards import BATCHED_BACKENDS
from evalfleet.run.evaluate import evaluate_shard
from evalfleet.store.environment import with_environment
from evalfleet.types import Item, ModelRef, Shard


@ray.remote(max_restarts=0, max_task_retries=0)
class ModelWorker:
    """Evaluates shards with a backend of kind `backend` (keyword options `options`, batch size `batch_size`).

    `threads`, when given, is the torch thread count of this process (a CPU-only worker's share of its node's
    cores; Ray would otherwise leave it at its reservation, one CPU).
    """

    def __init__(self, backend: str, options: dict | None, batch_size: int, threads: int | None = None):
        self.backend_name = backend
        self.options = dict(options or {})
        self.batch_size = batch_size
        self.model: ModelRef | None = None
        self.backend: Any = None
        self.running = 0  # shards of self.model being evaluated
        self.turn = threading.Condition()
        self.threads = threads

    def pid(self) -> int:
        """The actor's process id (tests kill it)."""
        return os.getpid()

    def _enter(self, model: ModelRef) -> None:
        """Wait until `model` is loaded or loadable (no shard of another model running), load it, count in."""
        with self.turn:
            self.turn.wait_for(lambda: self.model == model or self.running == 0)
            if self.model != model or self.backend is None:
                self._load(model)
            self.running += 1

    def _leave(self) -> None:
        with self.turn:
            self.running -= 1
            self.turn.notify_all()

    def _load(self, model: ModelRef) -> None:
        if self.backend is not None:
            self.backend.close()
            self.backend, self.model = None, None
        if self.threads:
            set_threads(self.threads)  # in this thread: the backend's engine takes the loading thread's count
        self.backend = load_backend(self.backend_name, model, batch_size=self.batch_size, **self.options)
        self.model = model

    def run(self, shard: Shard, items: Sequence[Item]) -> tuple[pa.Table, float]:
        """Evaluate `items` (the shard's, in order) and return (rows, seconds including any model load)."""
        t0, started = time.perf_counter(), time.time()
        self._enter(shard.model)
        try:
            table = evaluate_shard(
                self.backend,
                shard.task,
                items,
                shard.model,
                backend_name=self.backend_name,
                batch_size=self.batch_size if self.backend_name in BATCHED_BACKENDS else max(1, len(items)),
                shard=shard.fingerprint,
            )
            mode = getattr(self.backend, "batch_invariance", "")
        finally:
            self._leave()
        record = {**environment_record(self.backend_name, mode), "started": started, "ended": time.time()}
        return with_environment(table, record), time.perf_counter() - t0


def set_threads(threads: int) -> None:
    """Let torch use `threads` threads (at most this node's cores) in the calling thread (and OpenMP runtimes
    started later, in any)."""
    import torch

    threads = max(1, min(threads, os.cpu_count() or threads))

    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)
