"""The driver: one `ray.wait` loop feeding ModelWorker actors, writing finished shards to the store.

Thin Ray layer over `schedule.Scheduler`: per-shard try/except; a worker that died
(RayActorError) is replaced and its shards requeued; a shard that raised is retried on another
worker up to `max_retries`, then logged as failed and not written (the next run retries it).
Tasks whose module sets SCORE_ON_CPU_TASK are scored in Ray CPU tasks (`num_cpus=1`, chunks of
rows) before their shard is written; `sandbox='strict'` reaches those tasks as an argument (so it holds on
remote clusters too). A scoring task that raises or dies is resubmitted up to SCORE_RETRIES times, then its
rows are written with `error` set (the generations are kept). Only this loop writes to the store; stored
fingerprints are skipped, so running again resumes.

The loop is the class `_Run` (shaped like `sim._Sim`): one method per event, each Ray reference in flight
mapped to a record of `evalfleet.run.inflight` (ShardRun, ScoreChunk, WorkerStart).

Shards may arrive while the loop runs (`arrivals`, `evalfleet.run.arrivals`): `evalfleet run` hashes the
checkpoints in a thread (or in Ray tasks) and hands each model's shards over as soon as that model's
fingerprints are known, so the first models run while the last checkpoints are still read. The loop polls the
arrivals between waits (every ARRIVAL_POLL_S while any may come); arriving shards that are stored are skipped,
the others join the scheduler (`Scheduler.add_jobs`) and the progress totals, and workers start as soon as
there is something to run, up to `workers` (at most one per shard to run so far). Each arrival is logged as
`{"event": "model_ready", "model": ..., "shards": n, "to_run": m}`. The loop ends when nothing is in flight
and nothing more can arrive.

Engine-fed backends (vllm: not in `plan.shards.BATCHED_BACKENDS`) get deep queues: each worker holds enough
shards (`queue_depth`) that its engine always has more requests than it can batch, and its actor runs them
concurrently (`max_concurrency`); each shard's reference resolves as soon as that shard is done. On a
CPU-only cluster a worker's torch threads are its share of the cores (`cpu_threads`).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

import pyarrow as pa
import ray

from evalfleet.plan.shards import BATCHED_BACKENDS
from evalfleet.run.arrivals import Arrivals
from evalfleet.run.evaluate import score_rows, scores_on_cpu, with_sandbox
from evalfleet.run.inflight import InFlight, ScoreChunk, ScoringShard, ShardRun, WorkerStart
from evalfleet.run.schedule import Job, Scheduler
from evalfleet.run.worker import ModelWorker
from evalfleet.store.results import RECORD_SCHEMA, ResultStore
from evalfleet.types import Item, Shard

SCORE_CHUNK = 32
"""Rows per CPU scoring task."""
ARRIVAL_POLL_S = 0.2
"""While shards may still arrive, the loop waits at most this long on Ray before it polls the arrivals."""
SCORE_RETRIES = 2
"""Resubmissions of a scoring task that raised or whose worker died, before its rows are recorded as errors."""
ENGINE_REQUESTS = 2048
"""Requests an engine-fed worker should hold (queued shards' items): above vLLM's largest default batch
(max_num_seqs 1024 on big GPUs), so the engine never waits for the driver."""
MAX_ENGINE_DEPTH = 64
"""At most this many shards in flight per engine-fed worker."""
MODEL_LOAD_COST = 200_000.0
"""A model load in the planner's cost units (prompt characters / 4 + new tokens): an idle worker copies queued
shards of a model still running elsewhere only when their cost exceeds this (`run_shards(load_cost=...)`; None:
no copies). It is load seconds x a worker's throughput in those units; bench/load_cost.py measures both: on the
2-core CPU development machine an hf load is worth tens of units and a vLLM engine start thousands to tens of
thousands. This default is a GPU-scale guess, not measured (a GPU-sized checkpoint loads in tens of seconds into
an engine running thousands of units per second)."""


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


@dataclass(frozen=True)
class WorkerSetup:
    """How the driver starts a ModelWorker actor."""

    backend: str
    """Backend name ('hf', 'vllm', ...)."""
    backend_options: Mapping[str, Any]
    """The backend's options from the run config."""
    batch_size: int
    """Items per generation batch."""
    resources: Mapping[str, Any]
    """Ray actor resources (`worker_resources`)."""
    concurrency: int = 1
    """Shards the actor evaluates at once (its `max_concurrency`): 1 for batched backends, above the queue
    depth for engine-fed ones."""
    threads: int | None = None
    """Torch threads per actor (CPU-only clusters: `cpu_threads`), None to leave Ray's default."""

    def launch(self, name: str) -> Any:
        """A new actor named `name`; Ray places it asynchronously."""
        options = ModelWorker.options(name=name, max_concurrency=self.concurrency, **self.resources)
        return options.remote(self.backend, dict(self.backend_options), self.batch_size, self.threads)


@ray.remote(num_cpus=1, max_retries=0)
def _score_chunk(rows: list[dict], spec, items: dict, sandbox: str = "auto") -> list[dict]:
    """Score rows of a SCORE_ON_CPU_TASK task (the module runs untrusted code through its sandbox)."""
    return score_rows(rows, with_sandbox(spec, sandbox), items)


def default_workers() -> int:
    """One worker per GPU Ray reports, else one per 2 CPUs (at least 1)."""
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    return gpus if gpus else max(1, int(resources.get("CPU", 1)) // 2)


def engine_fed(backend: str) -> bool:
    """True for backends whose engine batches by itself (vllm): several shards in flight at once per worker."""
    return backend not in BATCHED_BACKENDS


def queue_depth(backend: str, in_flight: int, shards: Sequence[Shard]) -> int:
    """Shards queued per worker: `in_flight`; for an engine-fed backend at least ENGINE_REQUESTS items' worth
    (shards of the run's mean size), at most MAX_ENGINE_DEPTH."""
    if not engine_fed(backend) or not shards:
        return in_flight
    mean_items = sum(len(s.item_ids) for s in shards) / len(shards)
    return max(in_flight, min(MAX_ENGINE_DEPTH, math.ceil(ENGINE_REQUESTS / max(mean_items, 1.0))))


def cpu_threads(n_workers: int) -> int | None:
    """A CPU-only cluster's cores per worker (None where Ray has GPUs: the engine runs there)."""
    resources = ray.cluster_resources()
    if resources.get("GPU", 0) > 0 or n_workers < 1:
        return None
    return max(1, int(resources.get("CPU", 1)) // n_workers)


def worker_resources(backend_options: Mapping[str, Any] | None) -> dict:
    """Actor resources: the engine's GPUs where Ray has GPUs, else one CPU."""
    if ray.cluster_resources().get("GPU", 0) > 0:
        return {"num_gpus": int((backend_options or {}).get("tensor_parallel_size", 1)), "num_cpus": 0}
    return {"num_cpus": 1}


@dataclass(frozen=True)
class LoopSettings:
    """The options of `run_shards` that shape the loop (see its docstring)."""

    backend: str
    """Backend name ('hf', 'vllm', ...)."""
    backend_options: Mapping[str, Any]
    """The backend's options from the run config."""
    batch_size: int
    """Items per generation batch."""
    workers: int | None
    """At most this many worker actors (None: `default_workers()`)."""
    in_flight: int
    """Shards queued per worker (engine-fed backends: at least; see `queue_depth`)."""
    max_retries: int
    """Retries of a shard that raised or whose worker died."""
    sandbox: str
    """The run config's sandbox mode, passed to the CPU scoring tasks."""
    engine_depth: bool
    """False: an engine-fed worker holds exactly `in_flight` shards (tests)."""
    load_cost: float | None
    """A model load in cost units (straggler copies); None copies nothing."""


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
    engine_depth: bool = True,
    load_cost: float | None = MODEL_LOAD_COST,
    arrivals: Arrivals | None = None,
    planned: int | None = None,
) -> RunSummary:
    """Evaluate every shard not yet in `store` on a pool of ModelWorker actors (Ray must be initialized by the
    time there is a shard to run).

    `items[task_id][item_id]` are the tasks' items (loaded once on the driver); `progress`, when given, gets
    `start(shards)`, `add(shards)`, `advance(shard, n_items)`, `refresh()`, `stop()`; `sandbox` ('auto' |
    'strict') is the run config's sandbox mode, passed to the CPU scoring tasks. An engine-fed backend's workers
    hold `queue_depth` shards each (at least `in_flight`); `engine_depth=False` holds exactly `in_flight` (tests).
    `load_cost` (MODEL_LOAD_COST) is the cost a straggler's queued shards must exceed to be copied onto an idle
    worker (logged as `shard_copy`); None copies nothing. `arrivals`: more shards arriving while the loop runs
    (see the module docstring); the loop ends once it is closed and everything is done. `planned`: the shards
    expected in all, arrivals included (logged in the `start` event).
    """
    t_start = time.perf_counter()
    settings = LoopSettings(
        backend=backend,
        backend_options=backend_options or {},
        batch_size=batch_size,
        workers=workers,
        in_flight=in_flight,
        max_retries=max_retries,
        sandbox=sandbox,
        engine_depth=engine_depth,
        load_cost=load_cost,
    )
    run = _Run(items, store, settings, progress=progress, arrivals=arrivals)
    return run.execute(shards, t_start, planned=len(shards) if planned is None else planned)


def worker_setup(
    backend: str, backend_options: Mapping[str, Any], batch_size: int, depth: int, n_workers: int
) -> WorkerSetup:
    """How to start the run's workers (no Ray call when there is nothing to run)."""
    if not n_workers:
        return WorkerSetup(backend, backend_options, batch_size, {})
    concurrency = depth + 1 if engine_fed(backend) else 1
    threads = cpu_threads(n_workers) if engine_fed(backend) else None
    return WorkerSetup(backend, backend_options, batch_size, worker_resources(backend_options), concurrency, threads)


class _Run:
    """The event loop behind `run_shards` (one instance per run), shaped like `sim._Sim`: one method per event.

    `pending` maps each Ray reference in flight to what it is (`evalfleet.run.inflight`); `loop` waits
    on them one at a time and hands each to its handler; every handler may queue more references. Shards join
    through `add` (the first ones, then each arrival); the scheduler and the worker setup are made when the
    first shard to run is known (no Ray call before).
    """

    def __init__(
        self,
        items: Mapping[str, Mapping[str, Item]],
        store: ResultStore,
        settings: LoopSettings,
        *,
        progress: Any,
        arrivals: Arrivals | None = None,
    ):
        self.items = items
        self.store = store
        self.settings = settings
        self.sandbox = settings.sandbox
        self.progress = progress
        self.arrivals = arrivals
        self.todo: list[Shard] = []  # shards to run, in arrival order
        self.by_key: dict[str, Shard] = {}
        self.total = 0  # shards seen (stored ones included)
        self.sched: Scheduler | None = None
        self.setup: WorkerSetup | None = None
        self.cap = 0  # most workers this run may start (set with the scheduler)
        self.slots = 0  # workers started to grow the pool (replacements not counted)
        self.actors: dict[str, Any] = {}  # worker name -> actor handle
        self.pending: dict[Any, InFlight] = {}  # Ray reference -> what it is
        self.scoring: dict[str, ScoringShard] = {}  # fingerprint -> shard whose rows are being scored
        self.last_error: dict[str, str] = {}  # fingerprint -> last error, for the logs and the summary
        self.started = self.stored = self.retries = self.lost = 0

    # ---- the loop ---------------------------------------------------------------------------
    def execute(self, shards: Sequence[Shard], t_start: float, *, planned: int) -> RunSummary:
        """Take the first shards, start, loop until nothing is left or can arrive, finish; timed from `t_start`
        (`planned`: the shards expected in all, for the `start` event)."""
        new = self.add(shards)
        skipped = len(shards) - len(new)
        self.store.log(
            {
                "event": "start",
                "shards": len(shards),
                "to_run": len(new),
                "skipped": skipped,
                "workers": self.slots,
                "planned": planned,
            }
        )
        if self.progress:
            self.progress.start(new)
        self.loop()
        return self.finish(t_start)

    def add(self, shards: Sequence[Shard]) -> list[Shard]:
        """Take `shards` in: those not stored (nor known already) join the scheduler, more workers start up to the
        cap (one per shard to run); returns the new shards to run."""
        new = list({s.fingerprint: s for s in shards if s.fingerprint not in self.by_key}.values())
        new = [s for s in new if not self.store.has(s.fingerprint)]
        self.total += len(shards)
        self.todo += new
        self.by_key.update((s.fingerprint, s) for s in new)
        if not new:
            return new
        jobs = [Job(s.fingerprint, s.model.id, s.cost) for s in new]
        if self.sched is None:
            self.begin(jobs, new)
        else:
            self.sched.add_jobs(jobs)
        while self.slots < min(self.cap, len(self.todo)):
            self.slots += 1
            self.start_worker()
        return new

    def begin(self, jobs: list[Job], shards: Sequence[Shard]) -> None:
        """The first shards to run are known: make the scheduler (queue depth from these shards) and the worker
        setup (sized for the cap while more may arrive, else for the workers this run needs)."""
        cfg = self.settings
        depth = queue_depth(cfg.backend, cfg.in_flight, shards) if cfg.engine_depth else cfg.in_flight
        self.sched = Scheduler(jobs, in_flight=depth, max_retries=cfg.max_retries, load_cost=cfg.load_cost)
        self.cap = max(1, cfg.workers or default_workers())
        n_workers = self.cap if self.arriving else min(self.cap, len(shards))
        self.setup = worker_setup(cfg.backend, cfg.backend_options, cfg.batch_size, depth, n_workers)

    @property
    def arriving(self) -> bool:
        """More shards may still arrive."""
        return self.arrivals is not None and not self.arrivals.closed

    def receive(self) -> None:
        """Take what has arrived (waiting up to ARRIVAL_POLL_S when nothing is in flight); log each model's."""
        if not self.arriving:
            return
        for shards in self.arrivals.poll(0.0 if self.pending else ARRIVAL_POLL_S):
            new = self.add(shards)
            if self.progress and new:
                self.progress.add(new)
            for model in dict.fromkeys(s.model.id for s in shards):
                self.store.log(
                    {
                        "event": "model_ready",
                        "model": model,
                        "shards": sum(s.model.id == model for s in shards),
                        "to_run": sum(s.model.id == model for s in new),
                    }
                )

    def loop(self) -> None:
        """The one `ray.wait` loop: take arrivals, top the workers up, wait for a reference, handle it; until
        nothing is left and nothing more can arrive."""
        while True:
            self.receive()
            self.dispatch()
            if self.settled:
                return
            if not self.pending:  # only arrivals can bring work (`receive` waited for them)
                continue
            timeout = ARRIVAL_POLL_S if self.arriving else 1.0
            ready, _ = ray.wait(list(self.pending), num_returns=1, timeout=timeout)
            if self.progress:
                self.progress.refresh()
            for ref in ready:
                if ref in self.pending:
                    self.handle(ref, self.pending.pop(ref))

    @property
    def settled(self) -> bool:
        """Nothing left to wait for: nothing can arrive, and no reference is in flight or every shard is settled
        and only replacements are starting."""
        if self.arriving:
            return False
        if not self.pending:
            return True
        return self.sched.finished and all(isinstance(f, WorkerStart) for f in self.pending.values())

    def dispatch(self) -> None:
        """Top every worker in the scheduler up, in worker order, and send it its new shards."""
        for name in list(self.actors):
            if name not in self.sched.workers:
                continue
            for key in self.sched.assign(name):
                shard = self.by_key[key]
                task_items = self.items[shard.task.id]
                ref = self.actors[name].run.remote(shard, [task_items[i] for i in shard.item_ids])
                self.pending[ref] = ShardRun(name, key)
                if name in self.sched.copies.get(key, ()):  # a straggler's shard copied onto this idle worker
                    self.store.log({"event": "shard_copy", **self.shard_fields(key), "worker": name})

    def handle(self, ref: Any, flight: InFlight) -> None:
        """Hand a ready reference to the handler of its kind."""
        if isinstance(flight, ShardRun):
            self.shard_returned(ref, flight)
        elif isinstance(flight, ScoreChunk):
            self.chunk_returned(ref, flight)
        else:
            self.worker_started(ref, flight)

    def finish(self, t_start: float) -> RunSummary:
        """Kill the workers, stop the progress display, log the end of the run and return its summary."""
        for actor in self.actors.values():
            ray.kill(actor)
        if self.progress:
            self.progress.stop()
        summary = self.summary(t_start)
        self.store.log(
            {
                "event": "end",
                "run": summary.run,
                "skipped": summary.skipped,
                "failed": len(summary.failed),
                "retries": summary.retries,
                "workers_lost": summary.workers_lost,
                "workers_started": self.started,
                "seconds": round(summary.seconds, 3),
            }
        )
        return summary

    def summary(self, t_start: float) -> RunSummary:
        """What the run did, of every shard it was given, timed from `t_start`."""
        given_up = self.sched.given_up if self.sched else []
        return RunSummary(
            total=self.total,
            run=self.stored,
            skipped=self.total - len(self.todo),
            failed=tuple(f"{self.describe(k)}: {self.last_error.get(k, '')}" for k in given_up),
            retries=self.retries,
            workers_lost=self.lost,
            seconds=time.perf_counter() - t_start,
        )

    # ---- workers ----------------------------------------------------------------------------
    def start_worker(self, *, when_ready: bool = False) -> None:
        """Start actor w<n>; a replacement joins the scheduler only once Ray has placed it (its node may be gone)."""
        name = f"w{self.started}"
        self.started += 1
        self.actors[name] = self.setup.launch(f"evalfleet-{self.store.run_id}-{name}")
        if when_ready:
            self.pending[self.actors[name].__ray_ready__.remote()] = WorkerStart(name)
        else:
            self.sched.add_worker(name)

    def worker_started(self, ref: Any, flight: WorkerStart) -> None:
        """A replacement is placed: it joins the scheduler; one that could not start is dropped."""
        try:
            ray.get(ref)
        except Exception:  # it could not start: drop it, the others carry on
            self.actors.pop(flight.worker, None)
            return
        self.sched.add_worker(flight.worker)

    def worker_died(self, flight: ShardRun, exc: BaseException) -> None:
        """The worker's actor died: requeue its shards, forget its other runs, kill it, start a replacement."""
        name = flight.worker
        self.record_error(flight.key, exc)
        self.lost += 1
        lost_keys = self.sched.queued(name)
        requeued = set(self.sched.worker_lost(name))
        for ref in [r for r, f in self.pending.items() if isinstance(f, ShardRun) and f.worker == name]:
            del self.pending[ref]
        for key in lost_keys:
            self.last_error.setdefault(key, f"worker {name} died")
            self.log_retry(key, key in requeued, name)
        with contextlib.suppress(Exception):
            ray.kill(self.actors.pop(name), no_restart=True)
        self.start_worker(when_ready=True)

    # ---- shards -----------------------------------------------------------------------------
    def shard_returned(self, ref: Any, flight: ShardRun) -> None:
        """A worker answered for a shard: with its rows, with the shard's exception, or with its own death."""
        try:
            table, seconds = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            self.worker_died(flight, exc)
        except Exception as exc:  # the shard raised inside the worker
            self.shard_raised(flight, exc)
        else:
            self.shard_done(flight, table, seconds)

    def shard_done(self, flight: ShardRun, table: pa.Table, seconds: float) -> None:
        """A shard's rows came back: write them, or first score them in CPU tasks (SCORE_ON_CPU_TASK); a copy
        that finished second (a straggler's shard run twice) is dropped: a shard is recorded once."""
        if not self.sched.done(flight.worker, flight.key):
            return
        if not scores_on_cpu(self.by_key[flight.key].task):
            self.write(flight.key, table, seconds, flight.worker)
            return
        job = ScoringShard.split(table.to_pylist(), SCORE_CHUNK, worker=flight.worker, seconds=seconds)
        self.scoring[flight.key] = job
        for n in range(len(job.chunks)):
            self.submit_score(ScoreChunk(flight.key, n))

    def shard_raised(self, flight: ShardRun, exc: BaseException) -> None:
        """The shard raised inside its worker: requeue it on another worker, or give it up after its retries."""
        if flight.key in self.sched.completed:  # a late copy of a recorded shard
            return
        self.record_error(flight.key, exc)
        self.log_retry(flight.key, self.sched.failed(flight.worker, flight.key), flight.worker)

    def write(self, key: str, table: pa.Table, seconds: float, worker: str) -> None:
        """Store a finished shard, log it, advance the progress display."""
        shard = self.by_key[key]
        entry = self.store.write_shard(shard, table, seconds)
        self.stored += 1
        self.store.log(
            {
                "event": "shard_done",
                **self.shard_fields(key),
                "rows": entry["n_rows"],
                "errors": entry["n_errors"],
                "seconds": round(seconds, 4),
                "worker": worker,
            }
        )
        if self.progress:
            self.progress.advance(shard, len(shard.item_ids))

    # ---- scoring ----------------------------------------------------------------------------
    def submit_score(self, flight: ScoreChunk) -> None:
        """Score one chunk of a shard's rows in a CPU task, sending only the items those rows need."""
        shard = self.by_key[flight.key]
        chunk = self.scoring[flight.key].chunks[flight.chunk]
        task_items = self.items[shard.task.id]
        subset = {r["item_id"]: task_items[r["item_id"]] for r in chunk}
        ref = _score_chunk.options(scheduling_strategy="SPREAD").remote(chunk, shard.task, subset, self.sandbox)
        self.pending[ref] = flight

    def chunk_returned(self, ref: Any, flight: ScoreChunk) -> None:
        """A scoring task ended: with its scored rows, or having raised or died."""
        try:
            rows = ray.get(ref)
        except Exception as exc:  # the scoring task raised or its worker died: retry, then record errors
            self.chunk_failed(flight, exc)
        else:
            self.chunk_done(flight, rows)

    def chunk_failed(self, flight: ScoreChunk, exc: BaseException) -> None:
        """Resubmit a failed scoring task up to SCORE_RETRIES times, then keep its rows with `error` set."""
        retry = flight.tries + 1 <= SCORE_RETRIES
        event = "score_retry" if retry else "score_failed"
        self.store.log({"event": event, "fingerprint": flight.key, "chunk": flight.chunk, "error": type(exc).__name__})
        if retry:
            self.submit_score(replace(flight, tries=flight.tries + 1))
            return
        rows = self.scoring[flight.key].chunks[flight.chunk]
        self.chunk_done(flight, [{**r, "error": f"score task: {type(exc).__name__}", "score": 0.0} for r in rows])

    def chunk_done(self, flight: ScoreChunk, rows: list[dict]) -> None:
        """A chunk's rows are scored; once all of its shard's are, write the shard."""
        job = self.scoring[flight.key]
        job.scored[flight.chunk] = rows
        if job.complete:
            del self.scoring[flight.key]
            table = pa.Table.from_pylist(job.rows(), schema=RECORD_SCHEMA)
            self.write(flight.key, table, job.seconds, job.worker)

    # ---- errors and logs --------------------------------------------------------------------
    def record_error(self, key: str, exc: BaseException) -> None:
        """Remember `exc` as the shard's last error: its type and the last line of its message (500 chars)."""
        message = str(exc).strip()
        self.last_error[key] = f"{type(exc).__name__}: {message.splitlines()[-1] if message else ''}"[:500]

    def log_retry(self, key: str, requeued: bool, worker: str) -> None:
        """Log a failed attempt: shard_retry when the shard was requeued, shard_failed when it was given up."""
        self.retries += requeued
        event = "shard_retry" if requeued else "shard_failed"
        fields = {**self.shard_fields(key), "worker": worker, "error": self.last_error.get(key, "")}
        self.store.log({"event": event, **fields})

    def shard_fields(self, key: str) -> dict:
        """The log fields naming a shard."""
        shard = self.by_key[key]
        return {"fingerprint": key, "task": shard.task.id, "model": shard.model.id, "index": shard.index}

    def describe(self, key: str) -> str:
        """'task model #index' of a shard."""
        s = self.by_key[key]
        return f"{s.task.id} {s.model.id} #{s.index}"
