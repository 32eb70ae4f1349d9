"""Shard assignment policy (pure: no Ray, no clock). The driver — or a simulator with its own clock — drives it.

    s = Scheduler(jobs, in_flight=2, max_retries=2, load_cost=None)   # jobs: Job(key, model, cost), by priority
    s.add_jobs(more)        -> [keys]   jobs arriving while it runs (after the others in priority); new keys only
    s.add_worker("w0")
    s.assign("w0")          -> [keys]   newly queued on w0 (tops its queue up to in_flight)
    s.done("w0", key)       -> bool     shard finished (False: a copy of it finished first; discard this one)
    s.failed("w0", key)     -> bool     True: requeued or still queued elsewhere as a copy; False: gave up
    s.worker_lost("w0")     -> [keys]   w0 is gone; its queued shards requeued (or left to their copies)
    s.finished              -> bool     nothing pending or queued
    s.loaded(w), s.given_up, s.loads    the worker's current model, abandoned keys, model loads so far

Policy. Model affinity: a worker takes its current model's pending shards before any other. A
worker that needs a new model picks the model with the most remaining (pending) cost that no
other worker holds; when every model with pending work is held, it helps the one with the most
remaining cost (stealing, which costs the helper a model load). Stragglers (with `load_cost`, a model
load in cost units): a worker left with nothing (no pending shard anywhere, an empty queue) copies, last
first, the queued shards of the model with the most queued cost on other workers, when that cost exceeds a load
(or it holds that model already); a shard is copied at most once, the first copy to finish is the one
recorded (`done` says so) and the other is dropped from its queue. A failed shard goes back to the
front of its model's queue, avoiding the workers it failed on while others are alive; after
`max_retries` retries it is given up. Ties break on job order, so the same inputs and the same
call sequence give the same assignment.

Cost: O(log n) per assignment within a model (a deque), O(M) to pick a new model (M = models with
pending work, a few hundred in a full final), so O(S log S + loads × M) over a run of S shards.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Job:
    """What the scheduler knows of a shard."""

    key: str
    """Unique id (the shard fingerprint)."""
    model: str
    """Model id; shards of one model share a loaded model."""
    cost: float = 1.0
    """Estimated work, > 0."""


@dataclass
class _Worker:
    model: str | None = None
    queue: list = field(default_factory=list)


class Scheduler:
    """Model-affine assignment of jobs to workers with bounded queues, retries and worker loss."""

    def __init__(self, jobs: list[Job], *, in_flight: int = 2, max_retries: int = 2, load_cost: float | None = None):
        if in_flight < 1 or max_retries < 0:
            raise ValueError("in_flight must be >= 1 and max_retries >= 0")
        self.in_flight = in_flight
        self.max_retries = max_retries
        self.jobs: dict[str, Job] = {}
        self.order: dict[str, int] = {}
        self.pending: dict[str, deque] = {}
        self.remaining: dict[str, float] = {}
        self.add_jobs(jobs)
        self.workers: dict[str, _Worker] = {}
        self.attempts: dict[str, int] = {}
        self.avoid: dict[str, set[str]] = {}
        self.given_up: list[str] = []
        self.completed: set[str] = set()
        self.loads = 0
        self.load_cost = load_cost
        self.copies: dict[str, set[str]] = {}  # copied key -> workers holding it

    def add_jobs(self, jobs: list[Job]) -> list[str]:
        """Add `jobs` as pending (after the earlier ones in priority; a key already known is ignored): shards
        that arrive while the run goes on. Idle workers take them at their next `assign`. Returns the new keys."""
        new = []
        for j in jobs:
            if j.key in self.jobs:
                continue
            self.jobs[j.key] = j
            self.order[j.key] = len(self.order)
            self.pending.setdefault(j.model, deque()).append(j.key)
            self.remaining[j.model] = self.remaining.get(j.model, 0.0) + j.cost
            new.append(j.key)
        return new

    # ---- workers ----------------------------------------------------------------------------
    def add_worker(self, worker: str) -> None:
        """Register an idle worker holding no model."""
        self.workers[worker] = _Worker()

    def loaded(self, worker: str) -> str | None:
        """The model `worker` holds (or is about to load)."""
        return self.workers[worker].model

    def queued(self, worker: str) -> list[str]:
        """Keys assigned to `worker` and not yet done or failed."""
        return list(self.workers[worker].queue)

    @property
    def finished(self) -> bool:
        """True when no job is pending or queued anywhere."""
        return not any(self.pending.values()) and not any(w.queue for w in self.workers.values())

    # ---- assignment -------------------------------------------------------------------------
    def assign(self, worker: str) -> list[str]:
        """Top `worker`'s queue up to in_flight; return the newly assigned keys in order."""
        w = self.workers[worker]
        new: list[str] = []
        while len(w.queue) < self.in_flight:
            if w.model is None or not self._takeable(w.model, worker):
                model = self._pick_model(worker)
                if model is None:
                    break
                if model != w.model:
                    w.model = model
                    self.loads += 1
            key = self._take(w.model, worker)
            if key is None:
                break
            w.queue.append(key)
            new.append(key)
        if not new and not w.queue and not any(self.pending.values()):
            new = self._help(worker)
        return new

    # ---- stragglers -------------------------------------------------------------------------
    def _help(self, worker: str) -> list[str]:
        """Copy the last queued shards of the straggling model onto idle `worker` (see the module docstring)."""
        found = self._straggler(worker) if self.load_cost is not None else None
        if found is None:
            return []
        model, owners = found
        w = self.workers[worker]
        if w.model != model:
            w.model = model
            self.loads += 1
        queued = [(k, o) for o in owners for k in self.workers[o].queue if k not in self.copies]
        taken = queued[::-1][: self.in_flight]  # from the back: the owner runs its queue from the front
        for key, owner in taken:
            self.copies[key] = {owner, worker}
            w.queue.append(key)
        return [k for k, _ in taken]

    def _straggler(self, worker: str) -> tuple[str, list[str]] | None:
        """(model, workers holding it) with the most uncopied queued cost elsewhere, when worth a load."""
        queued: dict[str, float] = {}
        owners: dict[str, list[str]] = {}
        for name, o in self.workers.items():
            keys = [k for k in o.queue if k not in self.copies]
            if name == worker or not keys:
                continue
            owners.setdefault(o.model, []).append(name)
            queued[o.model] = queued.get(o.model, 0.0) + sum(self.jobs[k].cost for k in keys)
        own = self.workers[worker].model
        worth = [m for m, c in queued.items() if m == own or c > self.load_cost]
        if not worth:
            return None
        model = min(worth, key=lambda m: (-queued[m], m))
        return model, owners[model]

    def _drop_copies(self, key: str, worker: str) -> None:
        """`key` finished on `worker`: take its other copies out of their workers' queues."""
        for other in self.copies.pop(key, ()):
            queue = self.workers[other].queue if other in self.workers else []
            if other != worker and key in queue:
                queue.remove(key)

    def _copied_elsewhere(self, key: str, worker: str) -> bool:
        return any(o != worker and key in self.workers[o].queue for o in self.copies.get(key, ()) if o in self.workers)

    def _takeable(self, model: str, worker: str) -> bool:
        return any(self._allowed(k, worker) for k in self.pending.get(model, ()))

    def _allowed(self, key: str, worker: str) -> bool:
        avoid = self.avoid.get(key)
        return not avoid or worker not in avoid or avoid >= set(self.workers)

    def _take(self, model: str, worker: str) -> str | None:
        queue = self.pending[model]
        for n, key in enumerate(queue):
            if self._allowed(key, worker):
                del queue[n]
                self.remaining[model] -= self.jobs[key].cost
                return key
        return None

    def _pick_model(self, worker: str) -> str | None:
        held = {w.model for name, w in self.workers.items() if name != worker and w.model is not None}
        candidates = [m for m, q in self.pending.items() if q and self._takeable(m, worker)]
        if not candidates:
            return None

        def rank(m: str) -> tuple:
            return (-self.remaining[m], self.order[self.pending[m][0]])

        free = [m for m in candidates if m not in held]
        return min(free or candidates, key=rank)

    # ---- outcomes ---------------------------------------------------------------------------
    def done(self, worker: str, key: str) -> bool:
        """`key` finished on `worker`: True when this is its first finish (record it), False for a late copy."""
        queue = self.workers[worker].queue if worker in self.workers else []
        if key in queue:
            queue.remove(key)
        if key in self.completed:
            return False
        self.completed.add(key)
        self._drop_copies(key, worker)
        return True

    def failed(self, worker: str, key: str) -> bool:
        """`key` raised on `worker`: requeue it (True) or give it up after max_retries (False); True without a
        retry when it is already done or a copy of it is still queued elsewhere."""
        queue = self.workers[worker].queue
        if key in queue:
            queue.remove(key)
        if key in self.completed or self._copied_elsewhere(key, worker):
            return True
        return self._retry(worker, key)

    def worker_lost(self, worker: str) -> list[str]:
        """`worker` died: forget it and requeue its queued keys (each counts as an attempt); keys with a copy
        queued elsewhere are left to it (returned too, not retried)."""
        w = self.workers.pop(worker)
        alive = [k for k in w.queue if self._copied_elsewhere(k, worker)]
        requeued = [k for k in reversed(w.queue) if k not in alive and self._retry(worker, k)]
        return [k for k in w.queue if k in alive or k in requeued]

    def _retry(self, worker: str, key: str) -> bool:
        self.attempts[key] = self.attempts.get(key, 0) + 1
        if self.attempts[key] > self.max_retries:
            self.given_up.append(key)
            return False
        self.avoid.setdefault(key, set()).add(worker)
        job = self.jobs[key]
        self.pending.setdefault(job.model, deque()).appendleft(key)
        self.remaining[job.model] = self.remaining.get(job.model, 0.0) + job.cost
        return True
