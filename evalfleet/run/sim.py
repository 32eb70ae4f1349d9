"""A simulated clock driving the real scheduler (`evalfleet.run.schedule.Scheduler`), no Ray.

The loop calls the scheduler exactly as `driver.run_shards` does: every worker is topped up with
`assign` after every event (in worker order), a finished shard is `done`, a dead worker is
`worker_lost` and replaced. What Ray and the GPUs would do is modelled: each worker runs its queue
first in, first out; a shard of another model than the one loaded first pays that model's load
time. Shards carry the scheduler's estimate (`cost`) and their true duration (`seconds`), which
the scheduler never sees. With `load_cost` the scheduler copies a straggling model's queued shards onto
idle workers (`Scheduler(load_cost=...)`): the first copy to finish counts, the others stop (lost work).

    simulate(shards, load_s, gpus, in_flight=2, max_retries=2, losses=(), load_cost=None) -> SimResult
    lower_bound(shards, load_s, gpus)                                     -> float

The cost model (`Device`, `ModelSize`, `shard_seconds`, `load_seconds`) turns token counts into
seconds for the benchmark; `tests/run/test_sim.py` checks the loop on hand-computed cases.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from evalfleet.run.schedule import Job, Scheduler


@dataclass(frozen=True)
class SimShard:
    """One shard as the simulator sees it."""

    key: str
    """Unique id (the shard fingerprint)."""
    model: str
    """Model id; consecutive shards of one model on a worker share one load."""
    cost: float
    """The scheduler's estimate (plan/shards.py: prompt tokens + max new tokens), > 0."""
    seconds: float
    """True device time of the shard once its model is loaded, >= 0 (unknown to the scheduler)."""


@dataclass(frozen=True)
class WorkerLoss:
    """A worker dies (its node is lost) at a given time; its running shard's work is lost."""

    at: float
    """Simulated time of the death, seconds from the start."""
    worker: str
    """Worker name: 'w0' .. 'w{gpus-1}' at start, replacements continue the numbering."""
    replace_after: float | None = None
    """Seconds until a replacement worker joins (None: never, the GPU is gone)."""


@dataclass(frozen=True)
class SimResult:
    """What a simulated run did."""

    gpus: int
    """Workers at the start (one per GPU)."""
    makespan: float
    """Time the last shard finished, seconds."""
    lower_bound: float
    """`lower_bound(shards, load_s, gpus)`: no schedule can finish earlier."""
    busy_s: float
    """GPU-seconds spent running shards (lost work included)."""
    load_s: float
    """GPU-seconds spent loading models."""
    loads: int
    """Model loads performed (>= number of models)."""
    idle_pending_s: float
    """GPU-seconds a worker sat idle while a shard waited unassigned (goal: 0)."""
    idle_queued_s: float
    """GPU-seconds a worker sat idle while a shard waited, not started, in another worker's queue."""
    lost_s: float
    """GPU-seconds of shard work thrown away by worker deaths."""
    done: int
    """Shards completed."""
    given_up: tuple[str, ...]
    """Keys the scheduler abandoned after max_retries."""

    @property
    def ratio(self) -> float:
        """makespan / lower bound (1.0 = optimal)."""
        return self.makespan / self.lower_bound if self.lower_bound else 1.0


def lower_bound(shards: Sequence[SimShard], load_s: Mapping[str, float], gpus: int) -> float:
    """max(total GPU work / gpus, largest single shard + its model's load).

    Total work = every shard's seconds plus one load per model (each model is loaded at least
    once). The scheduler lets several workers share one model's shards, so no model's own total
    bounds the makespan — only its largest shard, which cannot be split, plus that model's load.
    """
    if not shards:
        return 0.0
    models = {s.model for s in shards}
    total = sum(s.seconds for s in shards) + sum(load_s[m] for m in models)
    longest = max(s.seconds + load_s[s.model] for s in shards)
    return max(total / gpus, longest)


@dataclass
class _Gpu:
    """A simulated worker: what it has loaded and what it runs (mutable simulator state)."""

    model: str | None = None
    queue: deque = field(default_factory=deque)  # keys in execution order (mirrors the scheduler's)
    running: str | None = None
    started: float = 0.0  # when the running shard's work (after any load) began


class _Sim:
    """The event loop behind `simulate` (one instance per run)."""

    def __init__(
        self,
        shards: Sequence[SimShard],
        load_s: Mapping[str, float],
        in_flight: int,
        max_retries: int,
        load_cost: float | None = None,
    ):
        self.by_key = {s.key: s for s in shards}
        if len(self.by_key) != len(shards):
            raise ValueError("shard keys must be unique")
        self.load_s = load_s
        self.in_flight = in_flight
        self.sched = Scheduler(
            [Job(s.key, s.model, s.cost) for s in shards],
            in_flight=in_flight,
            max_retries=max_retries,
            load_cost=load_cost,
        )
        self.workers: dict[str, _Gpu] = {}
        self.events: list = []  # heap of (time, seq, kind, worker, key or replace_after)
        self.seq = 0
        self.started_workers = 0
        self.now = 0.0
        self.makespan = 0.0
        self.idle = 0  # workers with nothing running
        self.acc = dict(busy=0.0, load=0.0, loads=0, idle_pending=0.0, idle_queued=0.0, lost=0.0, done=0)

    @property
    def unassigned(self) -> int:
        """Shards the scheduler has not handed out."""
        return sum(len(q) for q in self.sched.pending.values())

    @property
    def waiting(self) -> int:
        """Shards handed out and not started (a copy counts on each worker holding it)."""
        return sum(len(g.queue) - (g.running is not None) for g in self.workers.values())

    def push(self, t: float, kind: str, worker: str, payload=None) -> None:
        heapq.heappush(self.events, (t, self.seq, kind, worker, payload))
        self.seq += 1

    def add_worker(self) -> None:
        name = f"w{self.started_workers}"
        self.started_workers += 1
        self.workers[name] = _Gpu()
        self.sched.add_worker(name)
        self.idle += 1

    def start(self, name: str, g: _Gpu) -> None:
        s = self.by_key[g.queue[0]]
        load = 0.0
        if g.model != s.model:
            load = self.load_s[s.model]
            g.model = s.model
            self.acc["load"] += load
            self.acc["loads"] += 1
        g.running, g.started = s.key, self.now + load
        self.idle -= 1
        self.push(g.started + s.seconds, "finish", name, s.key)

    def driver_pass(self) -> None:
        """What driver.run_shards does each loop: top every worker up, in worker order."""
        for name, g in list(self.workers.items()):
            if len(g.queue) < self.in_flight:
                g.queue.extend(self.sched.assign(name))
            if g.running is None and g.queue:
                self.start(name, g)

    def advance(self, t: float) -> None:
        """Move the clock to `t`, charging idle GPUs to whatever was waiting meanwhile."""
        if self.idle and t > self.now:
            if self.unassigned > 0:
                self.acc["idle_pending"] += self.idle * (t - self.now)
            elif self.waiting > 0:
                self.acc["idle_queued"] += self.idle * (t - self.now)
        self.now = t

    def finish(self, name: str, key: str) -> None:
        g = self.workers.get(name)
        if g is None or g.running != key:
            return  # the worker died before this shard ended
        self.acc["busy"] += self.by_key[key].seconds
        g.running = None
        g.queue.popleft()
        self.idle += 1
        if self.sched.done(name, key):
            self.acc["done"] += 1
            self.drop_copies(key)
        self.makespan = max(self.makespan, self.now)

    def drop_copies(self, key: str) -> None:
        """`key` is done: the other workers forget their copies of it (one running stops: its work is lost)."""
        for g in self.workers.values():
            if key not in g.queue:
                continue
            if g.running == key:
                worked = max(0.0, self.now - g.started)
                self.acc["busy"] += worked
                self.acc["lost"] += worked
                g.running = None
                self.idle += 1
            g.queue.remove(key)

    def lose(self, name: str, replace_after: float | None) -> None:
        g = self.workers.pop(name, None)
        if g is None:
            return
        if g.running is None:
            self.idle -= 1
        else:
            worked = max(0.0, self.now - g.started)
            self.acc["busy"] += worked
            self.acc["lost"] += worked
        self.sched.worker_lost(name)
        if replace_after is not None:
            self.push(self.now + replace_after, "join", name)

    def run(self, gpus: int, losses: Sequence[WorkerLoss]) -> None:
        for _ in range(gpus):
            self.add_worker()
        for loss in losses:
            self.push(loss.at, "loss", loss.worker, loss.replace_after)
        self.driver_pass()
        while self.events:
            t, _, kind, name, payload = heapq.heappop(self.events)
            self.advance(t)
            if kind == "finish":
                self.finish(name, payload)
            elif kind == "loss":
                self.lose(name, payload)
            else:
                self.add_worker()
            self.driver_pass()


def simulate(
    shards: Sequence[SimShard],
    load_s: Mapping[str, float],
    gpus: int,
    *,
    in_flight: int = 2,
    max_retries: int = 2,
    losses: Sequence[WorkerLoss] = (),
    load_cost: float | None = None,
) -> SimResult:
    """Run `shards` on `gpus` simulated workers under the real Scheduler; see the module docstring."""
    if gpus < 1:
        raise ValueError("gpus must be >= 1")
    sim = _Sim(shards, load_s, in_flight, max_retries, load_cost)
    sim.run(gpus, losses)
    a = sim.acc
    return SimResult(
        gpus=gpus,
        makespan=sim.makespan,
        lower_bound=lower_bound(shards, load_s, gpus),
        busy_s=a["busy"],
        load_s=a["load"],
        loads=a["loads"],
        idle_pending_s=a["idle_pending"],
        idle_queued_s=a["idle_queued"],
        lost_s=a["lost"],
        done=a["done"],
        given_up=tuple(sim.sched.given_up),
    )


# ---- cost model ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Device:
    """Throughput model of one accelerator running the HF backend (batched greedy generation)."""

    name: str
    """Label for reports, e.g. 'A100-80GB'."""
    prefill_flops: float
    """Achieved FLOP/s during prefill (peak × utilisation)."""
    bandwidth: float
    """Achieved memory bandwidth during decode, bytes/s (each step reads every weight once)."""
    step_overhead_s: float
    """Framework time per decode step on top of the weight reads (Python, kernel launches)."""
    load_bandwidth: float
    """Bytes/s reading a checkpoint from shared storage into GPU memory."""
    init_s: float
    """Fixed seconds per model load (process, CUDA context, model build, warm-up)."""


@dataclass(frozen=True)
class ModelSize:
    """What the cost model needs of a checkpoint."""

    params: float
    """Parameter count."""
    bytes_per_param: float = 2.0
    """2 for float16/bfloat16, 4 for float32."""


def load_seconds(model: ModelSize, device: Device) -> float:
    """Checkpoint bytes / storage bandwidth + fixed init."""
    return model.params * model.bytes_per_param / device.load_bandwidth + device.init_s


def shard_seconds(
    prompt_tokens: Sequence[int], output_tokens: Sequence[int], model: ModelSize, device: Device, *, batch_size: int = 8
) -> float:
    """Seconds to answer a shard's items with length-sorted batches of `batch_size`.

    Per batch: prefill = 2 × params FLOPs per prompt token (fp32 at half the fp16 rate); decode =
    (longest output in the batch) steps, each reading every weight once plus a fixed overhead.
    """
    flops = device.prefill_flops * (2.0 / model.bytes_per_param)
    step = model.params * model.bytes_per_param / device.bandwidth + device.step_overhead_s
    order = sorted(range(len(prompt_tokens)), key=lambda i: prompt_tokens[i])
    total = 0.0
    for b in range(0, len(order), batch_size):
        batch = order[b : b + batch_size]
        total += 2.0 * model.params * sum(prompt_tokens[i] for i in batch) / flops
        total += max(output_tokens[i] for i in batch) * step
    return total


def percent(part: float, whole: float) -> float:
    """100 × part / whole (0 when whole is 0)."""
    return 100.0 * part / whole if whole else 0.0


def hours(seconds: float) -> float:
    """Seconds as hours."""
    return seconds / 3600.0
