"""What the driver's `ray.wait` loop is waiting on: one small record per kind of Ray reference in flight.

    ShardRun(worker, key)           ModelWorker.run on `worker` for shard `key` -> (table, seconds)
    ScoreChunk(key, chunk, tries)   a CPU task scoring chunk `chunk` of shard `key` -> rows
    WorkerStart(worker)             a replacement actor's `__ray_ready__` (it joins the scheduler once placed)

`ScoringShard` holds a shard between its generation and its write while its chunks are scored.
No Ray here: `evalfleet.run.driver` maps each reference to one of these records.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ShardRun:
    """A shard running on a worker actor."""

    worker: str
    """Name of the worker actor (the scheduler's worker name, e.g. 'w0')."""
    key: str
    """The shard's fingerprint."""


@dataclass(frozen=True)
class ScoreChunk:
    """One chunk of a shard's rows being scored in a Ray CPU task."""

    key: str
    """Fingerprint of the shard the rows belong to."""
    chunk: int
    """Index of the chunk in `ScoringShard.chunks`."""
    tries: int = 0
    """Earlier submissions of this chunk that raised or died."""


@dataclass(frozen=True)
class WorkerStart:
    """A replacement worker actor that Ray has not placed yet."""

    worker: str
    """Name of the worker actor; it joins the scheduler when its `__ray_ready__` returns."""


InFlight = ShardRun | ScoreChunk | WorkerStart
"""Any record the driver keeps per Ray reference in flight."""


@dataclass(frozen=True)
class ScoringShard:
    """A generated shard waiting for its chunks to be scored before it is written."""

    worker: str
    """Worker that generated the rows (recorded in the shard_done event)."""
    seconds: float
    """The worker's time for the shard."""
    chunks: tuple[list[dict], ...]
    """The shard's rows split into chunks, one CPU task each."""
    scored: list[list[dict] | None]
    """Scored rows per chunk, None until the chunk's task returns (filled in place)."""

    @classmethod
    def split(cls, rows: list[dict], size: int, *, worker: str, seconds: float) -> ScoringShard:
        """Rows in chunks of `size` (one empty chunk when there are no rows), none scored yet."""
        chunks = tuple(rows[i : i + size] for i in range(0, len(rows), size)) or ([],)
        return cls(worker=worker, seconds=seconds, chunks=chunks, scored=[None] * len(chunks))

    @property
    def complete(self) -> bool:
        """Every chunk has its scored rows."""
        return all(rows is not None for rows in self.scored)

    def rows(self) -> list[dict]:
        """The scored rows of every chunk, in order (once complete)."""
        return [r for rows in self.scored for r in rows or ()]
