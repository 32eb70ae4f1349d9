"""Run progress from the run logs (RESULTS/runs/<run-id>.jsonl, written by the driver): shards done, failed,
retrying, the rate and the time left, read from the latest run's events."""

from __future__ import annotations

import json
import posixpath
import time
from dataclasses import dataclass

import pyarrow.fs as pafs

from evalfleet.store.results import ResultStore

RUNS = "runs"
"""Folder of the run logs inside a results root."""


@dataclass(frozen=True)
class RunProgress:
    """Where the latest run stands, from its log."""

    run_id: str
    """The log's name (a UTC timestamp and a suffix)."""
    started: float
    """Unix time of the run's `start` event."""
    shards: int
    """Shards handed to the run so far: the `start` event's, plus each `model_ready` event's (a model's shards
    arrive once its checkpoint is hashed)."""
    to_run: int
    """Of those, the shards the run computes (not already stored)."""
    planned: int
    """Shards the run expects in all (the `start` event's `planned`; `shards` for logs without it)."""
    done: int
    """Shards stored by this run so far (`shard_done`)."""
    failed: int
    """Shards given up after their retries (`shard_failed`)."""
    retrying: int
    """Shards whose last attempt failed and that were queued again, not yet done or given up."""
    retries: int
    """Failed attempts that were retried (`shard_retry` events)."""
    ended: float | None
    """Unix time of the `end` event; None while the run goes on (or after it was killed)."""
    updated: float
    """Unix time of the log's last event."""

    @property
    def left(self) -> int:
        """Shards neither stored nor given up."""
        return max(0, self.to_run - self.done - self.failed)

    def eta(self, now: float | None = None) -> float | None:
        """Seconds left at the rate so far (None when finished or nothing is done yet)."""
        if self.ended is not None or self.done == 0 or self.left == 0:
            return None
        elapsed = (now or time.time()) - self.started
        return self.left * elapsed / self.done if elapsed > 0 else None


def run_logs(store: ResultStore) -> list[str]:
    """Names of the run logs in the root (<run-id>.jsonl), oldest first (their names start with the start time);
    a log written in segments (runs/<run-id>.d/, object stores) counts under the same name."""
    selector = pafs.FileSelector(store.path(RUNS), allow_not_found=True)
    names = set()
    for info in store.fs.get_file_info(selector):
        name = posixpath.basename(info.path)
        if info.type == pafs.FileType.File and name.endswith(".jsonl"):
            names.add(name)
        elif info.type == pafs.FileType.Directory and name.endswith(".d"):
            names.add(name.removesuffix(".d") + ".jsonl")
    return sorted(names)


def log_text(store: ResultStore, name: str) -> str:
    """The text of one run log: the file, or its segments in the order written (names start with the time)."""
    text = store.read_text(posixpath.join(RUNS, name))
    if text is not None:
        return text
    selector = pafs.FileSelector(store.path(RUNS, name.removesuffix(".jsonl") + ".d"), allow_not_found=True)
    segments = sorted(i.path for i in store.fs.get_file_info(selector) if i.path.endswith(".jsonl"))
    return "".join(store.read_text(posixpath.relpath(p, store.base)) or "" for p in segments)


def read_events(store: ResultStore, name: str) -> list[dict]:
    """The events of one run log; a torn last line (the run is writing it) is left out."""
    events = []
    for line in log_text(store, name).splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def progress(events: list[dict], run_id: str) -> RunProgress | None:
    """The progress of one run's events (None without a `start` event)."""
    start = next((e for e in events if e.get("event") == "start"), None)
    if start is None:
        return None
    state: dict[str, str] = {}  # fingerprint -> last event about it
    retries = 0
    ready = [e for e in events if e.get("event") == "model_ready"]
    shards = int(start.get("shards", 0)) + sum(int(e.get("shards", 0)) for e in ready)
    for e in events:
        if e.get("event") in ("shard_done", "shard_failed", "shard_retry"):
            state[e.get("fingerprint", "")] = e["event"]
            retries += e["event"] == "shard_retry"
    end = next((e for e in events if e.get("event") == "end"), None)
    return RunProgress(
        run_id=run_id.removesuffix(".jsonl"),
        started=float(start.get("time", 0.0)),
        shards=shards,
        to_run=int(start.get("to_run", 0)) + sum(int(e.get("to_run", 0)) for e in ready),
        planned=max(shards, int(start.get("planned", 0))),
        done=sum(s == "shard_done" for s in state.values()),
        failed=sum(s == "shard_failed" for s in state.values()),
        retrying=sum(s == "shard_retry" for s in state.values()),
        retries=retries,
        ended=float(end["time"]) if end else None,
        updated=float(events[-1].get("time", 0.0)),
    )


def latest_progress(store: ResultStore) -> RunProgress | None:
    """The progress of the newest run log that has a `start` event, or None."""
    for name in reversed(run_logs(store)):
        found = progress(read_events(store, name), name)
        if found is not None:
            return found
    return None
