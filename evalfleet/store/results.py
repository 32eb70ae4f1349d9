"""The result store: one Parquet file per shard, a manifest, run logs, the run's config.

    RESULTS/shards/<task>/<model>/<fingerprint>.parquet   one row per (item, sample): RECORD_SCHEMA
    RESULTS/compact/<task>/<model>/<digest>.parquet       compacted: a (task, model)'s shards, a row group each
    RESULTS/manifest.jsonl                                one line per stored shard
    RESULTS/manifest.d/<time-ns>-<id>.jsonl               object stores: one object per line, folded by `compact`
    RESULTS/lease.json                                    the driver that writes this root (store/lease.py)
    RESULTS/runs/<run-id>.jsonl                           run log: start / shard_done / shard_retry / shard_failed / end
    RESULTS/runs/<run-id>.d/<time-ns>-<id>.jsonl          object stores: the run log in segments (LOG_FLUSH_S)
    RESULTS/run.yaml                                      the config of the latest run (edition, track, ...)
    RESULTS/.cache/model-hashes.json                      checkpoint file digests by (path, size, mtime)
    RESULTS/quarantine/                                   damaged files and replaced manifests, moved aside

Only the driver writes. A shard file is written to a temporary name (page checksums on, its
identity in the Parquet key-value metadata) and renamed, then its manifest line (with the file's
size) is appended: a crash in between leaves a file without a line, which the next run recomputes
and rewrites identically. A failed write (full disk, permissions, object-store error) raises
StoreWriteError naming the path; nothing half-written counts as stored.

Faults (docs/faults.md): a torn last manifest line is skipped with a warning and removed by the
next write; damage earlier in the manifest is refused with its line number (`evalfleet repair`
rebuilds it from the files). `has()` (what a run skips) checks each stored shard cheaply: its
size against the recorded one and its footer (identity, row count, schema), never the data pages,
so a resume of a large final costs one small read per shard. A shard that fails it counts as not
stored; its file is moved to quarantine/ when the run rewrites it. Reads verify every page
checksum: `read_table` names every missing or damaged shard (DamagedShardsError) or, when asked,
leaves them out and lists them in `skipped`.
`evalfleet compact` folds the shard files of each (task, model) into one file (store/compaction.py);
every read below works on compacted and uncompacted shards alike.
The root may be a local path or any pyarrow filesystem URI (s3://, gs://, ...).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import posixpath
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass, replace
from typing import Any, Iterable, Iterator, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import yaml

from evalfleet.errors import EvalfleetError
from evalfleet.store import payloads
from evalfleet.store.compactfile import footer_of, read_row_groups, row_group_problem
from evalfleet.store.environment import environment_of
from evalfleet.store.manifest import MANIFEST, MANIFEST_D, ManifestRead, entry_line, parse_manifest
from evalfleet.store.quarantine import move_aside
from evalfleet.store.records import item_order, records_frame
from evalfleet.store.shardfile import (
    ShardProblem,
    first_line,
    footer_problem,
    problem,
    read_verified,
    size_reason,
    write_file,
)
from evalfleet.types import Shard

log = logging.getLogger("evalfleet.store")
CHECK_THREADS = 16
"""Concurrent footer checks in `stored_ok` (object stores answer each in one round trip)."""
CHECK_BATCH = 256
"""Footer checks submitted at once (memory stays flat however many shards a resume checks)."""
LOG_FLUSH_S = 30.0
"""Where the root cannot append (object stores), the run log's events are written as a new segment object at
most this often (and at a run's start and end): no object is rewritten, a crash loses at most this much log."""

RECORD_SCHEMA = pa.schema(
    [
        ("shard", pa.string()),  # shard fingerprint
        ("task", pa.string()),  # TaskSpec.id
        ("task_version", pa.string()),
        ("model", pa.string()),  # ModelRef.id
        ("team", pa.string()),
        ("family", pa.string()),
        ("role", pa.string()),
        ("prompt_style", pa.string()),
        ("backend", pa.string()),
        ("item_id", pa.string()),
        ("subset", pa.string()),
        ("sample", pa.int32()),
        ("prompt_hash", pa.string()),
        ("output", pa.string()),
        ("n_prompt_tokens", pa.int32()),
        ("n_output_tokens", pa.int32()),
        ("logliks", pa.list_(pa.float64())),  # loglikelihood tasks: one per choice
        ("loglik_tokens", pa.list_(pa.int32())),  # per choice: continuation tokens scored
        ("loglik_context_tokens", pa.list_(pa.int32())),  # per choice: context tokens (OpenCompass's ppl uses them)
        ("loglik_greedy", pa.list_(pa.bool_())),  # per choice: every continuation token was the argmax
        ("extracted", pa.string()),
        ("score", pa.float64()),  # the spec.metric value of this row
        ("metrics", pa.string()),  # JSON of the per-item metrics dict
        ("error", pa.string()),  # nullable: why this item has no answer
        ("isolation", pa.string()),  # nullable: sandbox used for code checks
        ("latency_s", pa.float64()),
    ]
)
"""One Parquet row = one Record. Other parts of evalfleet read these column names."""
KNOWN_COLUMNS = set(RECORD_SCHEMA.names)


def open_root(root: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, base path) of a local directory or a filesystem URI."""
    if "://" in root:
        return pafs.FileSystem.from_uri(root)
    return pafs.LocalFileSystem(), os.path.abspath(root)


class StoreWriteError(EvalfleetError):
    """A write to the results root failed (full disk, permissions, object-store error); names the path."""


class DamagedShardsError(EvalfleetError):
    """Stored shards that are missing or cannot be read intact; `problems` lists them."""

    def __init__(self, problems: list[ShardProblem], *, source: str, hint: str = ""):
        self.problems = list(problems)
        listed = "; ".join(p.describe() for p in self.problems[:20])
        more = f"; and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        super().__init__(
            f"{len(self.problems)} stored shard(s) missing or damaged: {listed}{more}. "
            "`evalfleet repair RESULTS` moves damaged files to quarantine/ and the next `evalfleet run` "
            f"recomputes them{hint}",
            source=source,
        )


@contextmanager
def writing(path: str, what: str = "") -> Iterator[None]:
    """Turn an OSError of a write into one StoreWriteError that names `path` and says what survives."""
    try:
        yield
    except OSError as exc:
        raise StoreWriteError(
            f"cannot write: {first_line(exc)}.{what} Everything stored before is kept: free space or fix the "
            "permissions, then run again to resume",
            source=path,
        ) from None


class ResultStore:
    """Read and (driver only) write the results root `root`.

    `lenient_manifest`: skip malformed manifest lines anywhere instead of refusing (verify reports
    them); a store opened so never writes the manifest.
    """

    def __init__(self, root: str, *, lenient_manifest: bool = False):
        self.root = str(root)
        self.fs, self.base = open_root(self.root)
        self.lenient_manifest = lenient_manifest
        self._manifest: ManifestRead | None = None
        self._paths: tuple[ManifestRead | None, dict[str, dict]] = (None, {})
        self._checked: dict[str, str | None] = {}
        self._footers: dict[str, Any] = {}
        """Compacted files' (size, footer) or why unreadable, by path: read once for all their shards."""
        self._payloads_saved: set[str] = set()
        """Payload component digests known to be stored (each file is written once)."""
        """Cheap-check result per fingerprint (None: intact), so planning and the driver read each footer once."""
        self.warnings: list[str] = []
        """Messages about the manifest (skipped lines) and shards found damaged, in the order found."""
        self.skipped: list[ShardProblem] = []
        """Shards `read_table(skip_missing=..., skip_damaged=...)` left out, and why."""
        self.run_id: str | None = None
        """Name of this run's log file (set by the first `log` call)."""
        self._log_buffer: list[dict] = []
        self._log_flushed = 0.0

    # ---- paths and small file helpers -------------------------------------------------------
    def path(self, *parts: str) -> str:
        return posixpath.join(self.base, *parts)

    def shard_path(self, shard: Shard, *, rescored: bool = False) -> str:
        """shards/<task>/<model>/<fingerprint>.parquet; a re-scored shard's file also names its scoring
        fingerprint (<fingerprint>.<scoring[:16]>.parquet), so the file it was re-scored from stays."""
        scoring = f".{shard.fingerprints.scoring[:16]}" if rescored and shard.fingerprints else ""
        name = f"{shard.fingerprint}{scoring}.parquet"
        return posixpath.join("shards", _safe(shard.task.id), _safe(shard.model.id), name)

    def files_under(self, *folders: str) -> list[str]:
        """Every file under RESULTS/<folder> (recursively) for each folder, relative to the root, sorted."""
        rels = []
        for folder in folders:
            selector = pafs.FileSelector(self.path(folder), recursive=True, allow_not_found=True)
            infos = self.fs.get_file_info(selector)
            rels += [posixpath.relpath(i.path, self.base) for i in infos if i.type == pafs.FileType.File]
        return sorted(rels)

    def _exists(self, rel: str) -> bool:
        return self.fs.get_file_info(self.path(rel)).type == pafs.FileType.File

    def read_text(self, rel: str) -> str | None:
        """Text of RESULTS/rel, or None when absent."""
        if not self._exists(rel):
            return None
        with self.fs.open_input_stream(self.path(rel)) as f:
            return f.read().decode("utf-8", errors="replace")

    def write_text(self, rel: str, text: str, *, what: str = " The previous version is unchanged.") -> None:
        """Replace RESULTS/rel atomically (temporary name, then rename); StoreWriteError (adding `what`) on failure."""
        target = self.path(rel)
        tmp = f"{target}.tmp-{uuid.uuid4().hex}"
        with writing(target, what):
            self.fs.create_dir(posixpath.dirname(target), recursive=True)
            try:
                with self.fs.open_output_stream(tmp) as f:
                    f.write(text.encode("utf-8"))
            except BaseException:
                self._discard(tmp)
                raise
            self.fs.move(tmp, target)

    def append_line(self, rel: str, obj: dict, *, what: str = "") -> None:
        """Append one JSON line to RESULTS/rel (rewrite where the filesystem cannot append); StoreWriteError
        (adding `what`) on failure."""
        line = entry_line(obj)
        target = self.path(rel)
        with writing(target, what):
            self.fs.create_dir(posixpath.dirname(target), recursive=True)
            try:
                stream = self.fs.open_append_stream(target)
            except (NotImplementedError, OSError):  # object stores cannot append
                self.write_text(rel, (self.read_text(rel) or "") + line, what=what)
                return
            with stream as f:
                f.write(line.encode("utf-8"))

    def _discard(self, path: str) -> None:
        """Remove our own half-written temporary file, if it exists (best effort: the disk may be full)."""
        try:
            self.fs.delete_file(path)
        except (OSError, FileNotFoundError):
            pass

    # ---- manifest ---------------------------------------------------------------------------
    def manifest(self) -> list[dict]:
        """One entry per stored shard (the last line wins for a fingerprint written twice)."""
        return list(self._entries().values())

    def manifest_read(self) -> ManifestRead:
        """The parsed manifest (cached): entries, a skipped torn last line, malformed lines (lenient stores)."""
        if self._manifest is None:
            text = (self.read_text(MANIFEST) or "") + "".join(self._manifest_objects().values())
            self._manifest = parse_manifest(text, source=self.path(MANIFEST), lenient=self.lenient_manifest)
            for message in self._manifest.warnings:
                self._warn(message)
        return self._manifest

    def reload(self) -> None:
        """Forget the cached manifest and checks (after another writer, e.g. `repair`, changed the root)."""
        self._manifest = None
        self._checked.clear()
        self._footers.clear()

    def _entries(self) -> dict[str, dict]:
        return self.manifest_read().entries

    def _append_manifest(self, entry: dict) -> None:
        """Append `entry`'s line; a torn last line (or a missing final newline) is removed first, atomically."""
        state = self.manifest_read()
        if self.lenient_manifest and state.bad_lines:
            raise EvalfleetError("refusing to write a damaged manifest; run `evalfleet repair RESULTS`")
        self._manifest = None  # re-read after a failure: the append may have left a torn line
        what = f" Shard {entry['task']} {entry['model']} #{entry.get('index')} is not listed, so it is not stored."
        if state.needs_rewrite:
            self.write_text(MANIFEST, state.clean_text + entry_line(entry), what=what)
            if state.torn_line:
                log.warning(f"{self.path(MANIFEST)}: the torn line {state.torn_line} was removed")
        elif not self.appends:
            name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.jsonl"  # a new object per line: no read-modify-write
            self.write_text(posixpath.join(MANIFEST_D, name), entry_line(entry), what=what)
        else:
            self.append_line(MANIFEST, entry, what=what)
        state.entries[entry["fingerprint"]] = entry  # in place: a run appends many lines to a large manifest
        if self._paths[0] is state:
            self._paths[1][entry["path"]] = entry
        self._manifest = state if not state.needs_rewrite else replace(state, needs_rewrite=False, torn_line=None)
        self._paths = (self._manifest, self._paths[1]) if self._paths[0] is state else (None, {})

    @property
    def appends(self) -> bool:
        """True where the manifest is appended to in place (local and NFS roots); elsewhere (object stores)
        each manifest line is an object of its own under manifest.d/, merged on read, folded by `compact`."""
        return self.fs.type_name == "local"

    def manifest_object_paths(self) -> list[str]:
        """The manifest.d/ objects' paths in the order written (names start with the time in ns); one listing."""
        selector = pafs.FileSelector(self.path(MANIFEST_D), allow_not_found=True)
        paths = sorted(i.path for i in self.fs.get_file_info(selector) if i.type == pafs.FileType.File)
        return [p for p in paths if p.endswith(".jsonl")]

    def _manifest_objects(self) -> dict[str, str]:
        """Text of each manifest.d/ object by path, in the order written."""
        paths = self.manifest_object_paths()

        def read(path: str) -> str:
            with self.fs.open_input_stream(path) as f:
                text = f.read().decode("utf-8", errors="replace")
            return text if text.endswith("\n") else text + "\n"

        with ThreadPoolExecutor(max_workers=CHECK_THREADS) as pool:
            return dict(zip(paths, pool.map(read, paths)))

    def fold_manifest(self) -> int:
        """Fold the manifest.d/ objects into manifest.jsonl (rewritten once, atomically), then delete them;
        returns how many were folded. A crash in between leaves lines listed twice: harmless, the last wins."""
        objects = self._manifest_objects()
        if objects:
            self._manifest = None
            self.rewrite_manifest(list(self.manifest_read().entries.values()), objects)
        return len(objects)

    def rewrite_manifest(self, entries: list[dict], objects: Iterable[str] | None = None) -> None:
        """Replace the manifest by `entries` (manifest.jsonl written atomically), then delete the manifest.d/
        objects it includes (`objects`: those read before; default: all). A crash in between lists a shard
        twice, the manifest.d/ line last: that line's file is still there (callers delete files only after)."""
        objects = list(self.manifest_object_paths() if objects is None else objects)
        self.write_text(MANIFEST, "".join(entry_line(e) for e in entries))
        for path in objects:
            self.fs.delete_file(path)
        self.reload()

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning(message)

    # ---- shards -----------------------------------------------------------------------------
    def has(self, fingerprint: str) -> bool:
        """True when this shard is stored intact as far as a cheap check can tell: its manifest line, its
        file with the recorded size, a footer that parses and names this shard with the recorded row count.
        A shard that fails counts as not stored (a run recomputes it and quarantines the file)."""
        return fingerprint in self._entries() and self.shard_problem(fingerprint) is None

    def stored_ok(self, fingerprints: Iterable[str]) -> set[str]:
        """The fingerprints `has()` holds for, footers checked concurrently (cached: later `has` calls are free)."""
        entries = self._entries()
        wanted = list(dict.fromkeys(fingerprints))
        todo = [fp for fp in wanted if fp in entries and fp not in self._checked]
        compacted = {entries[fp]["path"] for fp in todo if "row_group" in entries[fp]}
        with ThreadPoolExecutor(max_workers=CHECK_THREADS) as pool:
            list(pool.map(self._compacted_footer, compacted))  # each compacted file's footer once
            for start in range(0, len(todo), CHECK_BATCH):  # bounded: a final has ~130,000 shard files
                batch = todo[start : start + CHECK_BATCH]
                for fp, reason in zip(batch, pool.map(lambda fp: self._footer(entries[fp]), batch)):
                    self._record_check(entries[fp], reason)
        return {fp for fp in wanted if fp in entries and self._checked.get(fp, "") is None}

    def shard_problem(self, fingerprint: str) -> str | None:
        """Why the stored shard `fingerprint` fails the cheap check (None: it passes); cached per store."""
        if fingerprint not in self._checked:
            entry = self._entries()[fingerprint]
            self._record_check(entry, self._footer(entry))
        return self._checked[fingerprint]

    def _footer(self, entry: dict) -> str | None:
        if "row_group" not in entry:
            return footer_problem(self.fs, self.base, entry, KNOWN_COLUMNS)
        found = self._compacted_footer(entry["path"])
        if isinstance(found, str):
            return found
        size, summary = found
        if entry.get("bytes") is not None and size != entry["bytes"]:
            return size_reason(size, entry["bytes"])
        unknown = sorted(set(summary.columns) - KNOWN_COLUMNS)
        if unknown:
            return f"unknown columns in the footer: {', '.join(unknown)} (damaged schema)"
        return row_group_problem(summary, entry)

    def _compacted_footer(self, path: str) -> Any:
        if path not in self._footers:
            self._footers[path] = footer_of(self.fs, self.base, path)
        return self._footers[path]

    def _record_check(self, entry: dict, reason: str | None) -> None:
        self._checked[entry["fingerprint"]] = reason
        if reason:
            self._warn(f"{problem(entry, reason).describe()}: counts as not stored, the run recomputes it")

    def save_payloads(self, shard: Shard) -> None:
        """Store each component value of the shard's payloads once (RESULTS/payloads/<digest>.json)."""
        if shard.fingerprints is None:
            return
        for payload in (shard.fingerprints.generation_payload, shard.fingerprints.scoring_payload):
            payloads.save(payload, self._exists, self.write_text, self._payloads_saved)

    def payloads(self, entry: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """The full generation and scoring payloads of a stored shard's entry ({} for older entries)."""
        return {
            side: payloads.load(entry.get(f"{side}_components") or {}, self.read_text)
            for side in ("generation", "scoring")
        }

    def entry(self, fingerprint: str) -> dict | None:
        """The manifest entry of a stored shard (the latest line for this fingerprint), or None."""
        return self._entries().get(fingerprint)

    def write_shard(self, shard: Shard, table: pa.Table, seconds: float, *, rescored_from: str | None = None) -> dict:
        """Write the shard's rows (temp file + rename), then its manifest line; return the entry.

        The entry (also stored in the file's footer) carries the shard's scoring fingerprint and both
        payloads when the shard has them; `rescored_from` (the path of the file whose outputs were
        re-scored) writes to a path of its own and names that file, which stays. A damaged file already
        at the shard's path is moved to quarantine/ first. Raises StoreWriteError (naming the path)
        when any step fails: the shard then does not count as stored."""
        environment = environment_of(table)
        table = table.cast(RECORD_SCHEMA) if table.schema != RECORD_SCHEMA else table
        rel = self.shard_path(shard, rescored=rescored_from is not None)
        target = self.path(rel)
        entry = shard_entry(shard, table, rel, seconds)
        self.save_payloads(shard)
        if environment is not None:
            entry["environment"] = {**environment, "run_id": self.run_id}
        if rescored_from is not None:
            entry["rescored_from"] = rescored_from
        tmp = f"{target}.tmp-{uuid.uuid4().hex}"
        with writing(target, f" Shard {shard.task.id} {shard.model.id} #{shard.index} is not stored."):
            self.fs.create_dir(posixpath.dirname(target), recursive=True)
            try:
                write_file(self.fs, tmp, table, entry, full_payloads(shard))
            except BaseException:
                self._discard(tmp)
                raise
            self._set_aside(entry)
            self.fs.move(tmp, target)
            entry["bytes"] = self.fs.get_file_info(target).size
        self._append_manifest(entry)
        self._checked[shard.fingerprint] = None
        return entry

    def _set_aside(self, entry: dict) -> None:
        """Quarantine a damaged file at `entry`'s path (an intact one, e.g. written before a crash, is replaced)."""
        if not self._exists(entry["path"]):
            return
        reason = self._checked.get(entry["fingerprint"]) or footer_problem(
            self.fs, self.base, {"fingerprint": entry["fingerprint"], "path": entry["path"]}, KNOWN_COLUMNS
        )
        if reason:
            dest = move_aside(self.fs, self.base, entry["path"], reason)
            log.warning(f"{problem(entry, reason).describe()}: moved to {self.path(dest)}, recomputed")

    def read_shard(self, entry: dict | str) -> pa.Table:
        """The rows of one stored shard (a manifest entry, or a path relative to the root), every page
        checksum verified; FileNotFoundError, or ValueError naming the damage."""
        if isinstance(entry, str):
            fingerprint = posixpath.basename(entry).split(".")[0]  # <fingerprint>[.<scoring>].parquet
            entry = self._by_path().get(entry) or {"fingerprint": fingerprint, "path": entry}
        if "row_group" not in entry:
            return read_verified(self.fs, self.base, entry, RECORD_SCHEMA)
        [(_, table)] = read_row_groups(self.fs, self.base, entry["path"], [entry], RECORD_SCHEMA)
        if isinstance(table, str):
            raise ValueError(table)
        return table

    def _by_path(self) -> dict[str, dict]:
        """Manifest entries of shard files by path (rebuilt when the manifest changed; compacted files hold many)."""
        state = self.manifest_read()
        if self._paths[0] is not state:
            self._paths = (state, {e["path"]: e for e in state.entries.values() if "row_group" not in e})
        return self._paths[1]

    def groups(self, tasks: Iterable[str] | None = None) -> dict[tuple[str, str], list[dict]]:
        """Manifest entries per (task, model), in (task, model) order, each group's by shard index (the
        order `read_table` concatenates them in)."""
        wanted = set(tasks) if tasks is not None else None
        out: dict[tuple[str, str], list[dict]] = {}
        for entry in sorted(self.manifest(), key=_entry_order):
            if wanted is None or entry["task"] in wanted:
                out.setdefault((entry["task"], entry["model"]), []).append(entry)
        return out

    def read_entries(
        self, entries: Iterable[dict], columns: list[str] | None = None
    ) -> tuple[list[pa.Table], list[tuple[ShardProblem, str]]]:
        """(tables, problems) of reading `entries` (only `columns` when given), every page read verified;
        each problem comes with its kind: 'missing' or 'damaged'."""
        tables, bad = [], []
        for entry, found in self.read_each(entries, columns):
            if isinstance(found, pa.Table):
                tables.append(found)
            else:
                bad.append((problem(entry, found), "missing" if found == "file missing" else "damaged"))
        return tables, bad

    def read_each(self, entries: Iterable[dict], columns: list[str] | None = None) -> list[tuple[dict, pa.Table | str]]:
        """Each entry with its rows (only `columns`, plus `shard`, when given) or the reason it cannot be read
        ('file missing', or the damage), in order; a compacted file is opened once for all its shards."""
        entries = list(entries)
        schema = _read_schema(columns)
        found: dict[int, pa.Table | str] = {}
        by_file: dict[str, list[dict]] = {}
        for entry in entries:
            if "row_group" in entry:
                by_file.setdefault(entry["path"], []).append(entry)
                continue
            try:
                found[id(entry)] = read_verified(self.fs, self.base, entry, RECORD_SCHEMA, columns)
            except FileNotFoundError:
                found[id(entry)] = "file missing"
            except (OSError, ValueError) as exc:
                found[id(entry)] = first_line(exc)
        for path, group in by_file.items():
            try:
                found.update((id(e), t) for e, t in read_row_groups(self.fs, self.base, path, group, schema))
            except FileNotFoundError:
                found.update((id(e), "file missing") for e in group)
            except OSError as exc:
                found.update((id(e), first_line(exc)) for e in group)
        return [(e, found[id(e)]) for e in entries]

    def iter_groups(
        self,
        columns: list[str] | None = None,
        tasks: Iterable[str] | None = None,
        *,
        skip_missing: bool = False,
        skip_damaged: bool = False,
        groups: list[tuple[tuple[str, str], list[dict]]] | None = None,
    ) -> Iterator[tuple[tuple[str, str], pa.Table]]:
        """((task, model), rows) per group, reading only `columns` (plus `shard`): memory bounded by two groups
        (the next one is read in a thread while the caller works on this one: pyarrow reads without the GIL).
        `groups`: these (key, manifest entries) instead of the manifest's (a worker process given its share).

        A missing (damaged) shard is left out and listed in `self.skipped` when `skip_missing`
        (`skip_damaged`); otherwise the other groups are still read and DamagedShardsError names every
        such shard once the last group was yielded."""
        schema = _read_schema(columns)
        refused: list[ShardProblem] = []
        groups = list(self.groups(tasks).items()) if groups is None else groups
        for key, (tables, bad) in self._read_ahead(groups, columns):
            for p, kind in bad:
                skip = skip_missing if kind == "missing" else skip_damaged
                (self.skipped if skip else refused).append(p)
            if tables:
                yield key, pa.concat_tables(tables) if len(tables) > 1 else tables[0]
            elif not bad:
                yield key, schema.empty_table()
        if refused:
            raise DamagedShardsError(refused, source=self.path(MANIFEST))

    def _read_ahead(self, groups: list[tuple[tuple[str, str], list[dict]]], columns: list[str] | None) -> Iterator:
        """(key, read_entries(entries)) per group, the next group's read started before this one is handed out."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="evalfleet-read") as pool:
            ahead = pool.submit(self.read_entries, groups[0][1], columns) if groups else None
            for n, (key, _) in enumerate(groups):
                found = ahead.result()
                if n + 1 < len(groups):
                    ahead = pool.submit(self.read_entries, groups[n + 1][1], columns)
                yield key, found

    def read_table(
        self, tasks: Iterable[str] | None = None, *, skip_missing: bool = False, skip_damaged: bool = False
    ) -> pa.Table:
        """All rows of all stored shards (optionally only these task ids), as Arrow, every page checksum verified.

        A listed shard whose file is missing (or damaged) raises DamagedShardsError naming every such
        shard, unless `skip_missing` (`skip_damaged`): then it is left out and listed in `self.skipped`."""
        groups = self.iter_groups(tasks=tasks, skip_missing=skip_missing, skip_damaged=skip_damaged)
        tables = [table for _, table in groups]
        return pa.concat_tables(tables) if tables else RECORD_SCHEMA.empty_table()

    def read_records(
        self,
        tasks: Iterable[str] | None = None,
        *,
        skip_missing: bool = False,
        skip_damaged: bool = False,
        columns: list[str] | None = None,
    ) -> pd.DataFrame:
        """All rows as a DataFrame; `metrics` parsed into a dict per row, `logliks` a list (or None).

        `columns`: only these, read and converted one (task, model) group at a time (no `output` text
        unless asked for)."""
        if columns is None:
            return records_frame(self.read_table(tasks, skip_missing=skip_missing, skip_damaged=skip_damaged))
        groups = self.iter_groups(columns, tasks, skip_missing=skip_missing, skip_damaged=skip_damaged)
        frames = [records_frame(table.select(columns)) for _, table in groups if table.num_rows]
        return pd.concat(frames, ignore_index=True) if frames else records_frame(_empty(columns))

    def record_groups(
        self,
        columns: list[str],
        *,
        allow_missing: bool = False,
        groups: list[tuple[tuple[str, str], list[dict]]] | None = None,
    ) -> Iterator[tuple[tuple[str, str], pd.DataFrame]]:
        """((task, model), records) per group for `evalfleet score`: only `columns`, `metrics` parsed. A missing
        or damaged shard refuses once every group was read (DamagedShardsError naming each), unless
        `allow_missing`: then they are left out and `scoring_notes()` names them. `groups`: as `iter_groups`.
        Rows come in (item_id, sample) order when both columns are read (`item_order`)."""
        skip = {"skip_missing": allow_missing, "skip_damaged": allow_missing}
        try:
            for key, table in self.iter_groups(columns, groups=groups, **skip):
                yield key, records_frame(item_order(table.select(columns)))
        except DamagedShardsError as exc:
            self.refuse_scoring(exc.problems)

    def refuse_scoring(self, problems: list[ShardProblem]) -> None:
        """DamagedShardsError naming `problems` (shards a scoring read could not use), with the way around them;
        nothing when there is none."""
        if problems:
            hint = "; or score without them: `evalfleet score --allow-missing`"
            raise DamagedShardsError(problems, source=self.path(MANIFEST), hint=hint) from None

    def scoring_notes(self) -> tuple[str, ...]:
        """The report notes of a read: manifest warnings, and the shards an `allow_missing` read left out."""
        notes = list(self.warnings)
        if self.skipped:
            notes.append(f"scored without {len(self.skipped)} missing or damaged shard(s) (--allow-missing):")
            notes += [f"left out: {p.describe()}" for p in self.skipped]
        return tuple(dict.fromkeys(notes))

    # ---- run config, logs, caches -----------------------------------------------------------
    def save_run_config(self, config: Any) -> None:
        """Write RESULTS/run.yaml (a RunConfig or a mapping)."""
        raw = asdict(config) if is_dataclass(config) else dict(config)
        self.write_text("run.yaml", yaml.safe_dump(_plain(raw), sort_keys=False))

    def load_run_config(self) -> dict:
        """The mapping saved by `save_run_config` (keys of RunConfig: edition, track, ...)."""
        text = self.read_text("run.yaml")
        if text is None:
            raise EvalfleetError(
                "no run.yaml here: not a results directory written by 'evalfleet run'", source=self.path("run.yaml")
            )
        raw = yaml.safe_load(text)
        if not isinstance(raw, dict):
            raise EvalfleetError("malformed run.yaml", source=self.path("run.yaml"))
        return raw

    def log(self, event: dict) -> None:
        """Append one event (with a UTC timestamp) to this run's log RESULTS/runs/<run_id>.jsonl; on object
        stores, to the next segment RESULTS/runs/<run_id>.d/<time-ns>-<id>.jsonl (written every LOG_FLUSH_S)."""
        if self.run_id is None:
            self.run_id = self.new_run_id()
        line = {"time": round(time.time(), 3), **event}
        if self.appends:
            self.append_line(posixpath.join("runs", f"{self.run_id}.jsonl"), line)
            return
        if not self._log_buffer and not self._log_flushed:
            atexit.register(self.flush_log)
        self._log_buffer.append(line)
        if event.get("event") in ("start", "end") or time.time() - self._log_flushed >= LOG_FLUSH_S:
            self.flush_log()

    def flush_log(self) -> None:
        """Write the buffered run-log events as a new segment object (object stores; nothing to do elsewhere)."""
        if not self._log_buffer:
            return
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.jsonl"
        text = "".join(entry_line(e) for e in self._log_buffer)
        self.write_text(posixpath.join("runs", f"{self.run_id}.d", name), text)
        self._log_buffer.clear()
        self._log_flushed = time.time()

    @staticmethod
    def new_run_id() -> str:
        """A fresh run id: UTC start time and a random suffix."""
        return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]

    def load_json(self, rel: str, default: Any) -> Any:
        """JSON document at RESULTS/rel, or `default` when absent or unreadable."""
        text = self.read_text(rel)
        try:
            return json.loads(text) if text else default
        except ValueError:
            return default

    def save_json(self, rel: str, obj: Any) -> None:
        self.write_text(rel, json.dumps(obj, sort_keys=True))


def shard_entry(shard: Shard, table: pa.Table, rel: str, seconds: float) -> dict:
    """The manifest entry of `shard` stored as `table` at `rel` (before its size is known)."""
    entry = {
        "fingerprint": shard.fingerprint,
        "task": shard.task.id,
        "model": shard.model.id,
        "index": shard.index,
        "n_rows": table.num_rows,
        "n_errors": table.num_rows - table.column("error").null_count,
        "path": rel,
        "seconds": round(seconds, 4),
    }
    if shard.fingerprints is not None:
        entry["scoring_fingerprint"] = shard.fingerprints.scoring
        entry["generation_components"] = payloads.components(shard.fingerprints.generation_payload)
        entry["scoring_components"] = payloads.components(shard.fingerprints.scoring_payload)
    return entry


def full_payloads(shard: Shard) -> dict[str, Any] | None:
    """Both payloads in full, for the shard file's footer (None for shards without fingerprints)."""
    fps = shard.fingerprints
    return None if fps is None else {"generation": fps.generation_payload, "scoring": fps.scoring_payload}


def _read_schema(columns: list[str] | None) -> pa.Schema:
    """The schema of a read of `columns` (all when None): `shard` first, to check the rows' identity."""
    if columns is None:
        return RECORD_SCHEMA
    return pa.schema([RECORD_SCHEMA.field(c) for c in dict.fromkeys(["shard", *columns])])


def _empty(columns: list[str]) -> pa.Table:
    return pa.schema([RECORD_SCHEMA.field(c) for c in columns]).empty_table()


def _entry_order(entry: dict) -> tuple:
    return (entry["task"], entry["model"], entry.get("index", 0), entry["fingerprint"])


def _safe(name: str) -> str:
    """A task or model id as a path component (':' of variants becomes '@')."""
    return name.replace(":", "@").replace("/", "_")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
