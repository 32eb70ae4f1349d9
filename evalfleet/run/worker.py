"""The one Ray actor class: a ModelWorker holds one loaded backend and evaluates shards of it.

It loads a model when a shard of another model arrives (closing the previous one), so the
scheduler's model affinity decides how often models are loaded. Shards run in arrival order.
"""

from __future__ import annotations

import os
import time
from typing import Any, Sequence

import pyarrow as pa
import ray

from evalfleet.backends import load_backend
from evalfleet.plan.environment import environment_record
from evalfleet.run.evaluate import evaluate_shard
from evalfleet.store.environment import with_environment
from evalfleet.types import Item, ModelRef, Shard


@ray.remote(max_restarts=0, max_task_retries=0)
class ModelWorker:
    """Evaluates shards with a backend of kind `backend` (keyword options `options`, batch size `batch_size`)."""

    def __init__(self, backend: str, options: dict | None, batch_size: int):
        self.backend_name = backend
        self.options = dict(options or {})
        self.batch_size = batch_size
        self.model: ModelRef | None = None
        self.backend: Any = None

    def pid(self) -> int:
        """The actor's process id (tests kill it)."""
        return os.getpid()

    def _load(self, model: ModelRef) -> None:
        if self.model == model and self.backend is not None:
            return
        if self.backend is not None:
            self.backend.close()
            self.backend, self.model = None, None
        self.backend = load_backend(self.backend_name, model, batch_size=self.batch_size, **self.options)
        self.model = model

    def run(self, shard: Shard, items: Sequence[Item]) -> tuple[pa.Table, float]:
        """Evaluate `items` (the shard's, in order) and return (rows, seconds including any model load)."""
        t0, started = time.perf_counter(), time.time()
        self._load(shard.model)
        table = evaluate_shard(
            self.backend,
            shard.task,
            items,
            shard.model,
            backend_name=self.backend_name,
            batch_size=self.batch_size,
            shard=shard.fingerprint,
        )
        record = {**environment_record(self.backend_name), "started": started, "ended": time.time()}
        return with_environment(table, record), time.perf_counter() - t0
