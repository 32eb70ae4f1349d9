"""One writer per results root: RESULTS/lease.json names the driver that holds it, refreshed while it runs.

    {"owner": "user", "host": "node-3", "pid": 4711, "run_id": "20250101T000000Z-ab12cd", "heartbeat": 1.7e9, ...}

`evalfleet run` takes the lease before it plans anything and a daemon thread refreshes its heartbeat every
HEARTBEAT_S seconds; it is released (deleted) when the driver process exits. A second driver on the same
root refuses (LeaseHeldError, exit status 2) naming the holder's owner, host, pid and run, unless the lease
is stale: its heartbeat older than STALE_S seconds, or its process gone on this very host. A crashed
driver therefore blocks a root for at most STALE_S seconds (not at all on its own host).

Each write replaces the whole (small) object atomically, so it works alike on local, NFS and object-store
roots; two drivers starting within the same instant are told apart by reading the lease back after
writing it (the later writer wins, the other refuses).
"""

from __future__ import annotations

import atexit
import getpass
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass

from evalfleet.errors import EvalfleetError

LEASE = "lease.json"
"""The lease's path inside a results root."""
HEARTBEAT_S = 20.0
"""Seconds between two refreshes of the holder's heartbeat."""
STALE_S = 120.0
"""A lease whose heartbeat is older than this is abandoned (a driver killed without releasing it)."""


@dataclass(frozen=True)
class Lease:
    """Who writes a results root."""

    owner: str
    """User name of the driver process."""
    host: str
    """Host name of the driver."""
    pid: int
    """Process id of the driver on `host`."""
    run_id: str
    """The run's id (its log is RESULTS/runs/<run_id>.jsonl)."""
    started: float
    """When the lease was taken (Unix time)."""
    heartbeat: float
    """Last refresh (Unix time)."""

    def describe(self) -> str:
        age = time.time() - self.heartbeat
        return f"run {self.run_id} by {self.owner} on host {self.host}, pid {self.pid} (heartbeat {age:.0f}s ago)"


_BEATING: dict[str, threading.Event] = {}
"""Per lease path, the stop signal of this process's heartbeat thread."""


class LeaseHeldError(EvalfleetError):
    """Another driver holds the results root's lease."""


def mine(run_id: str) -> Lease:
    now = time.time()
    return Lease(getpass.getuser(), socket.gethostname(), os.getpid(), run_id, now, now)


def read_lease(store) -> Lease | None:
    """The lease stored at the root, or None (absent or unreadable: a torn write counts as no lease)."""
    raw = store.load_json(LEASE, None)
    try:
        return Lease(**raw) if isinstance(raw, dict) else None
    except TypeError:
        return None


def is_stale(lease: Lease, stale_s: float) -> bool:
    """True when the heartbeat is too old, or the holder's process is gone (checked on its own host only)."""
    if time.time() - lease.heartbeat > stale_s:
        return True
    if lease.host == socket.gethostname():
        try:
            os.kill(lease.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
    return False


def _same_process(a: Lease, b: Lease) -> bool:
    """Both taken by this very process (an earlier run of it has finished: `pipeline.run` called again)."""
    return (a.host, a.pid) == (b.host, b.pid)


def _same(a: Lease | None, b: Lease) -> bool:
    return a is not None and (a.host, a.pid, a.run_id) == (b.host, b.pid, b.run_id)


def acquire(store, run_id: str, *, stale_s: float = STALE_S) -> Lease:
    """Take the root's lease for `run_id`; LeaseHeldError naming the holder when a live driver has it."""
    held = read_lease(store)
    ours = mine(run_id)
    if held is not None and not _same_process(held, ours) and not is_stale(held, stale_s):
        raise LeaseHeldError(_refusal(held), source=store.path(LEASE))
    store.save_json(LEASE, asdict(ours))
    back = read_lease(store)
    if not _same(back, ours):
        raise LeaseHeldError(_refusal(back or held or ours), source=store.path(LEASE))
    return ours


def _refusal(held: Lease) -> str:
    return (
        f"another driver writes this results root: {held.describe()}. Wait for it to finish, or stop it; a lease "
        f"whose heartbeat is older than {STALE_S:.0f}s (or whose process is gone on its host) is taken over"
    )


def release(store, lease: Lease) -> None:
    """Delete the lease if it is still ours (best effort: the root may be unreachable by then)."""
    try:
        if _same(read_lease(store), lease):
            store.fs.delete_file(store.path(LEASE))
    except (OSError, EvalfleetError):
        pass


def hold(store, *, heartbeat_s: float = HEARTBEAT_S, stale_s: float = STALE_S) -> Lease:
    """Acquire the lease for the store's run (naming its run id now), refresh it from a daemon thread and
    release it when the process exits. Raises LeaseHeldError when another live driver holds it."""
    store.run_id = store.run_id or store.new_run_id()
    lease = acquire(store, store.run_id, stale_s=stale_s)
    stop = threading.Event()
    previous = _BEATING.pop(store.path(LEASE), None)
    if previous is not None:
        previous.set()  # an earlier run of this process on the same root stops refreshing its lease
    _BEATING[store.path(LEASE)] = stop

    def beat() -> None:
        while not stop.wait(heartbeat_s):
            try:
                store.save_json(LEASE, {**asdict(lease), "heartbeat": time.time()})
            except (OSError, EvalfleetError):
                pass  # a missed beat; the next one retries

    threading.Thread(target=beat, name="evalfleet-lease", daemon=True).start()
    atexit.register(lambda: (stop.set(), release(store, lease)))
    return lease
