"""Shards that reach the driver's loop while it runs: a model's shards as soon as its checkpoint is hashed.

    feed = Feed(ready)                 ready(result) -> the shards to hand over (called in the polling thread)
    feed.start(results)                a daemon thread iterates `results` (e.g. `plan.prepare.hash_models`)
    feed.poll(timeout) -> [[shards]]   what has arrived since (waits up to `timeout` for the first)
    feed.closed                        True once `results` is exhausted and everything was polled
    feed.close()                       the thread stops after its current result (the run ended or raised)

The thread only produces; `ready` runs in the thread that polls (the driver's), so whatever it does with the
store (printing why shards run, re-scoring stored outputs) stays in the one thread that writes the store. An
exception of the thread is raised again by `poll`. No Ray here.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterable, Protocol, Sequence

from evalfleet.types import Shard


class Arrivals(Protocol):
    """Where `driver.run_shards` gets shards that arrive while it runs."""

    @property
    def closed(self) -> bool:
        """True once nothing more will arrive."""
        ...

    def poll(self, timeout: float) -> list[Sequence[Shard]]:
        """The batches of shards arrived since the last call (one batch per model), waiting up to `timeout`
        seconds for the first; empty when none came."""
        ...


_END = object()


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


class Feed:
    """`Arrivals` filled by a thread iterating results; each result becomes shards through `ready`."""

    def __init__(self, ready: Callable[[Any], Sequence[Shard]]):
        self.ready = ready
        self.queue: queue.Queue = queue.Queue()
        self.stop = threading.Event()
        self.done = False
        self.thread: threading.Thread | None = None

    def start(self, results: Iterable[Any]) -> Feed:
        """Iterate `results` in a daemon thread ('evalfleet-plan'), queueing each; returns self."""
        self.thread = threading.Thread(target=self.fill, args=(results,), name="evalfleet-plan", daemon=True)
        self.thread.start()
        return self

    def fill(self, results: Iterable[Any]) -> None:
        """Queue each result, then the end (or the exception that stopped the iteration)."""
        iterator = iter(results)
        try:
            for result in iterator:
                self.queue.put(result)
                if self.stop.is_set():
                    break
        except BaseException as exc:  # raised again in the polling thread
            self.queue.put(_Raised(exc))
            return
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()  # a generator's finally blocks run here (hash_models saves its cache)
        self.queue.put(_END)

    @property
    def closed(self) -> bool:
        return self.done

    def poll(self, timeout: float) -> list[Sequence[Shard]]:
        if self.done:
            return []
        try:
            first = self.queue.get(timeout=timeout) if timeout > 0 else self.queue.get_nowait()
        except queue.Empty:
            return []
        items = [first] + [self.queue.get_nowait() for _ in range(self.queue.qsize())]  # the one consumer
        out: list[Sequence[Shard]] = []
        for item in items:
            if item is _END:
                self.done = True
            elif isinstance(item, _Raised):
                self.done = True
                raise item.exc
            else:
                shards = self.ready(item)
                if shards:
                    out.append(shards)
        return out

    def close(self) -> None:
        """Ask the thread to stop after its current result (then its cleanup runs); does not wait for it."""
        self.stop.set()
