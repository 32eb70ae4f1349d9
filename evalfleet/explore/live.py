"""A results root kept current for the explorer: re-read when its manifest, run.yaml or latest run log changed.

`LiveResults.snapshot()` compares cheap stamps (size and modification time of those files; on object-store
roots also the number and newest name of the manifest.d/ objects, from one listing; at most
once per `min_interval` seconds) and builds a new Snapshot only when one changed; the shards read for
an earlier snapshot are kept (a shard file never changes once its manifest line is written), so a
refresh during a run reads only the shards that landed since. `rows(task, model)` reads one model's
stored rows with their outputs (cached per shard). Nothing here writes to the root: the store is opened
with a lenient manifest, which a reader never writes.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import yaml

from evalfleet.errors import EvalfleetError
from evalfleet.explore.catalog import Catalog
from evalfleet.explore.runlog import RUNS, latest_progress, run_logs
from evalfleet.explore.snapshot import LIGHT_DROP, Snapshot, build_snapshot
from evalfleet.scoring.task_scores import task_scores
from evalfleet.store.manifest import MANIFEST, MANIFEST_D
from evalfleet.store.results import RECORD_SCHEMA, ResultStore

FULL_CACHE = 256
"""Shards whose full rows (with outputs) are kept in memory for item pages."""
TEXT_COLUMNS = ("output", "extracted", "error", "isolation", "subset", "prompt_hash")
"""Text columns the pages show, kept as Python strings or None."""
READ_THREADS = 8
"""Shards read at once when a snapshot is built (object stores answer each in a round trip)."""


class LiveResults:
    """The explorer's read-only view of one results root.

    The first `snapshot()` builds one (and waits for it); later calls answer at once with the current one,
    starting a rebuild in a background thread when the root changed, so no page waits for a rescoring.
    `snapshot(wait=True)` builds in the caller's thread instead (the pages' refresh poll, the export); both
    look at the root at most once per `min_interval` seconds.
    """

    def __init__(self, root: str, *, min_interval: float = 1.0, data_dir: str | None = None):
        self.root = str(root)
        self.min_interval = min_interval
        self.data_dir = data_dir
        """Where the task items are read (default: run.yaml's data_dir)."""
        self._store = ResultStore(self.root, lenient_manifest=True)
        self._components: dict[str, object] = {}
        """Payload component values by digest (read once from RESULTS/payloads/)."""
        self._tables: dict[str, pa.Table] = {}  # fingerprint -> rows without outputs
        self._scores: dict[tuple[str, str], tuple[tuple[str, ...], pd.DataFrame]] = {}  # (model, task) -> scores
        self._full: OrderedDict[str, pd.DataFrame] = OrderedDict()  # fingerprint -> rows with outputs (LRU)
        self._unreadable: dict[str, str] = {}  # fingerprint -> why its shard could not be read
        self._snapshot: Snapshot | None = None
        self._stamps: tuple = ()
        self._checked = 0.0
        self._catalog: tuple[str, Catalog] | None = None
        self._lock = threading.Lock()  # the fields above
        self._building = threading.Lock()  # one build at a time
        self.builds = 0
        """Snapshots built so far."""

    # ---- snapshots --------------------------------------------------------------------------
    def snapshot(self, *, wait: bool = False) -> Snapshot:
        """The current snapshot; a rebuild starts (in the background unless `wait`) when the root changed since."""
        with self._lock:
            current = self._snapshot
            due = time.monotonic() - self._checked >= self.min_interval
        if current is None or (wait and due):
            return self._refresh()
        if due and not self._building.locked():
            threading.Thread(target=self._refresh, name="evalfleet-explore-refresh", daemon=True).start()
        return current

    def _refresh(self) -> Snapshot:
        """Build a snapshot when the stamps changed since the last one; return the newest."""
        with self._building:
            stamps = self._stamp()
            with self._lock:
                self._checked = time.monotonic()
                if self._snapshot is not None and stamps == self._stamps:
                    return self._snapshot
            snapshot = self._build(stamps)
            with self._lock:
                self._snapshot, self._stamps = snapshot, stamps
                self.builds += 1
            return snapshot

    def _stamp(self) -> tuple:
        """(manifest, run.yaml, latest run log) as (size, mtime) pairs, the number of logs, and the manifest.d/
        objects' number and newest name (object-store roots: one object per shard, names start with the time)."""
        logs = run_logs(self._store)
        files = [MANIFEST, "run.yaml"] + ([f"{RUNS}/{logs[-1]}"] if logs else [])
        infos = self._store.fs.get_file_info([self._store.path(f) for f in files])
        stamps = tuple((i.size, i.mtime_ns) if i.type == pafs.FileType.File else None for i in infos)
        return stamps + (len(logs), self._objects_stamp(logs))

    def _objects_stamp(self, logs: list[str]) -> tuple | None:
        """(objects, newest name) under RESULTS/manifest.d/ and under the latest run log's segments
        (runs/<run-id>.d/), each in one listing (none read); None on local roots."""
        if self._store.appends:
            return None
        folders = [MANIFEST_D] + ([f"{RUNS}/{logs[-1].removesuffix('.jsonl')}.d"] if logs else [])
        stamps = []
        for folder in folders:
            selector = pafs.FileSelector(self._store.path(folder), allow_not_found=True)
            names = [i.base_name for i in self._store.fs.get_file_info(selector) if i.type == pafs.FileType.File]
            stamps.append((len(names), max(names, default="")))
        return tuple(stamps)

    def _build(self, stamps: tuple) -> Snapshot:
        config = self._config()
        catalog = self._catalog_for(config)
        self._store.reload()
        self._store.warnings.clear()
        entries = [self._resolved(e) for e in self._store.manifest()]
        records = self._records(entries)
        scores = self._task_scores(entries, records)
        notes = tuple(self._store.warnings) + tuple(
            f"shard {fp} left out: {why}" for fp, why in sorted(self._unreadable.items())
        )
        return build_snapshot(
            stamp=f"{hash(stamps) & 0xFFFFFFFFFFFF:012x}",
            config=config,
            catalog=catalog,
            entries=entries,
            records=records,
            scores=scores,
            progress=latest_progress(self._store),
            source=self.root,
            notes=notes,
        )

    def _resolved(self, entry: dict) -> dict:
        """`entry` with its generation payload resolved from RESULTS/payloads/ (each component read once)."""
        digests = entry.get("generation_components")
        if not digests:
            return entry
        missing = {k: d for k, d in digests.items() if d not in self._components}
        for name, value in self._store.payloads({"generation_components": missing})["generation"].items():
            self._components[missing[name]] = value
        return {**entry, "generation_payload": {k: self._components[d] for k, d in digests.items()}}

    def _config(self) -> dict:
        text = self._store.read_text("run.yaml")
        try:
            raw = yaml.safe_load(text) if text else {}
        except yaml.YAMLError:
            return {}
        raw = raw if isinstance(raw, dict) else {}
        return {**raw, "data_dir": self.data_dir} if self.data_dir else raw

    def _catalog_for(self, config: dict) -> Catalog:
        """The catalog of this config (kept while run.yaml is unchanged: items load once)."""
        key = json.dumps(config, sort_keys=True, default=str)
        if self._catalog is None or self._catalog[0] != key:
            self._catalog = (key, Catalog(config))
        return self._catalog[1]

    def _records(self, entries: list[dict]) -> pd.DataFrame:
        """Every entry's rows without outputs: shards read before kept, new ones read now (concurrently)."""
        wanted = {e["fingerprint"] for e in entries}
        self._tables = {fp: t for fp, t in self._tables.items() if fp in wanted}
        self._unreadable = {fp: why for fp, why in self._unreadable.items() if fp in wanted}
        by_file: dict[str, list[dict]] = {}  # a compacted file holds many shards: read once for all of them
        for entry in entries:
            if entry["fingerprint"] not in self._tables:
                by_file.setdefault(entry["path"], []).append(entry)
        with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
            for found in pool.map(self._store.read_each, by_file.values()):
                for entry, table in found:
                    self._keep(entry, table)
        tables = [self._tables[e["fingerprint"]] for e in entries if e["fingerprint"] in self._tables]
        return light(pa.concat_tables(tables) if tables else RECORD_SCHEMA.empty_table())

    def _task_scores(self, entries: list[dict], records: pd.DataFrame) -> pd.DataFrame:
        """Task scores per (model, task): kept while the group's shards are the same, computed again otherwise."""
        shards: dict[tuple[str, str], list[dict]] = {}
        for entry in entries:
            shards.setdefault((entry["model"], entry["task"]), []).append(entry)
        groups = records.groupby(["model", "task"]).indices if len(records) else {}
        kept = {}
        for key in sorted(shards):
            fps = fingerprints(shards[key])
            if key in self._scores and self._scores[key][0] == fps:
                kept[key] = self._scores[key]
            elif key in groups:
                kept[key] = (fps, self._group_scores(key, records.iloc[groups[key]]))
        self._scores = kept
        frames = [frame for _, frame in kept.values() if len(frame)]
        return pd.concat(frames, ignore_index=True) if frames else task_scores(records.iloc[:0])

    def _group_scores(self, key: tuple[str, str], rows: pd.DataFrame) -> pd.DataFrame:
        """task_scores of one (model, task); a failure is noted (the pages show it) instead of ending the server."""
        try:
            return task_scores(rows)
        except (EvalfleetError, KeyError, ValueError, TypeError) as exc:
            self._store.warnings.append(f"{key[1]} {key[0]}: no task score ({type(exc).__name__}: {exc})")
            return task_scores(rows.iloc[:0])

    def _keep(self, entry: dict, table: pa.Table | str) -> None:
        """Keep a shard's rows (without outputs), or why it cannot be read (the pages name it)."""
        if isinstance(table, str):
            self._unreadable[entry["fingerprint"]] = table
            return
        self._unreadable.pop(entry["fingerprint"], None)
        self._tables[entry["fingerprint"]] = table.drop_columns(list(LIGHT_DROP))

    # ---- one model's rows -------------------------------------------------------------------
    def rows(self, task: str, model: str, snapshot: Snapshot | None = None) -> pd.DataFrame:
        """Every stored row of (task, model) with its output, in item order; column `run_id` names each row's run."""
        snap = snapshot or self.snapshot()
        frames = []
        for entry in (e for e in snap.entries if e["task"] == task and e["model"] == model):
            frame = self._full_rows(entry)
            if frame is not None:
                frames.append(frame.assign(run_id=(entry.get("environment") or {}).get("run_id") or ""))
        if not frames:
            return full(RECORD_SCHEMA.empty_table()).assign(run_id="")
        return pd.concat(frames, ignore_index=True).sort_values(["item_id", "sample"], kind="stable")

    def _full_rows(self, entry: dict) -> pd.DataFrame | None:
        fp = entry["fingerprint"]
        with self._lock:
            if fp in self._full:
                self._full.move_to_end(fp)
                return self._full[fp]
        [(_, table)] = self._store.read_each([entry])
        if isinstance(table, str):
            self._unreadable[fp] = table
            return None
        frame = full(table)
        with self._lock:
            self._full[fp] = frame
            while len(self._full) > FULL_CACHE:
                self._full.popitem(last=False)
        return frame


def fingerprints(entries: list[dict]) -> tuple[str, ...]:
    """The sorted fingerprints of manifest entries."""
    return tuple(sorted(e["fingerprint"] for e in entries))


def light(table: pa.Table) -> pd.DataFrame:
    """Rows without their outputs, metrics parsed (what `task_scores` reads)."""
    frame = table.drop_columns([c for c in LIGHT_DROP if c in table.column_names]).to_pandas()
    frame["metrics"] = [json.loads(m) if m else {} for m in frame["metrics"]]
    return frame


def full(table: pa.Table) -> pd.DataFrame:
    """Every column; metrics parsed, list columns as lists (or None)."""
    frame = light(table)
    for column in TEXT_COLUMNS:  # missing text as None (pandas' string dtype reads it as NaN)
        frame[column] = table.column(column).to_pylist()
    for column in ("logliks", "loglik_tokens", "loglik_context_tokens", "loglik_greedy"):
        frame[column] = [list(v) if v is not None else None for v in frame[column]]
    return frame
