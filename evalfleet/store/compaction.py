"""Compaction: the shard files of each (task, model) folded into one compacted file (store/compactfile.py).

A final of ~128,700 shards is ~128,700 small files: every read pays per file (pyarrow ~0.5 ms, an
object store a request). `compact` rewrites each (task, model) that has two files or more as one file,
one row group per shard, so a group is read in one request and a resume checks one footer per group.

Order, so that a crash at any point loses nothing:
  1. each group's shards are read (every page checksum verified) and written to a temporary name, renamed
     to compact/<task>/<model>/<digest>.parquet and read back in full (checksums again);
  2. the manifest is rewritten once, atomically, its entries naming the compacted files and row groups
     (on object stores the manifest.d/ objects are folded into it);
  3. only then are the files the manifest no longer names deleted.
A crash before 2 leaves compacted files no manifest names (the next compaction deletes them: their rows
are in the files still listed); a crash after 2 leaves shard files no manifest names whose rows are in a
compacted file (the next compaction deletes them). A damaged shard is not compacted: it keeps its file
and entry, so a run still recomputes it. Compaction holds the results root's lease (no run writes meanwhile).
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa

from evalfleet.store.compactfile import COMPACT_DIR, read_row_groups, write_compacted
from evalfleet.store.results import CHECK_THREADS, RECORD_SCHEMA, ResultStore, StoreWriteError, _safe, writing
from evalfleet.store.shardfile import ShardProblem, problem

GROUP_THREADS = 4
"""(task, model) groups compacted at once (memory: that many groups' rows)."""
PLACEMENT = ("path", "bytes", "row_group")
"""Entry keys that say where a shard's rows are (not part of its identity)."""


@dataclass(frozen=True)
class CompactReport:
    """What `compact` did."""

    groups: int
    """(task, model) groups written as a compacted file."""
    shards: int
    """Shards now in those compacted files."""
    files_before: int
    """Files the manifest named before."""
    files_after: int
    """Files the manifest names after."""
    deleted: int
    """Files deleted: compacted away, or left over by an interrupted compaction."""
    damaged: tuple[ShardProblem, ...]
    """Shards left as they were because they cannot be read intact (a run recomputes them)."""


def compact(store: ResultStore, *, min_files: int = 2) -> CompactReport:
    """Fold every (task, model) whose shards lie in `min_files` files or more into one compacted file (see module)."""
    deleted = _delete(store, _leftovers(store))
    entries = {e["fingerprint"]: e for e in store.manifest()}
    before = {e["path"] for e in entries.values()}
    replaced, damaged, groups = {}, [], 0
    todo = [(key, group) for key, group in store.groups().items() if len({e["path"] for e in group}) >= min_files]
    with ThreadPoolExecutor(max_workers=GROUP_THREADS) as pool:  # pyarrow reads and writes without the GIL
        for moved, bad in pool.map(lambda job: _compact_group(store, *job[0], job[1], min_files), todo):
            replaced.update(moved)
            damaged += bad
            groups += bool(moved)
    if replaced or store.manifest_object_paths():  # one rewrite: the compacted entries, manifest.d/ folded in
        store.rewrite_manifest([replaced.get(fp, e) for fp, e in entries.items()])
    if replaced:
        deleted += _delete(store, _leftovers(store))
    after = {e["path"] for e in store.manifest()}
    return CompactReport(groups, len(replaced), len(before), len(after), deleted, tuple(damaged))


def _compact_group(
    store: ResultStore, task: str, model: str, group: list[dict], min_files: int
) -> tuple[dict[str, dict], list[ShardProblem]]:
    """Write one group's intact, non-empty shards as a compacted file; their new entries, and the damaged ones."""
    tables, kept, damaged = [], [], []
    for entry, found in store.read_each(group):
        if isinstance(found, str):
            damaged.append(problem(entry, found))
        elif found.num_rows:
            tables.append(found)
            kept.append(entry)
    if not kept or len(kept) < min_files:
        return {}, damaged
    identities = [_identity(e) for e in kept]
    digest = hashlib.sha256(json.dumps(identities, sort_keys=True).encode()).hexdigest()[:24]
    rel = posixpath.join(COMPACT_DIR, _safe(task), _safe(model), f"{digest}.parquet")
    size = _write(store, rel, tables, identities)
    moved = {
        e["fingerprint"]: {**ident, "path": rel, "row_group": k, "bytes": size}
        for k, (e, ident) in enumerate(zip(kept, identities))
    }
    _check(store, rel, list(moved.values()))
    return moved, damaged


def _identity(entry: dict) -> dict:
    """The entry without where it lies, plus the shard's first file (`compacted_from`), kept across compactions."""
    identity = {k: v for k, v in entry.items() if k not in PLACEMENT}
    identity.setdefault("compacted_from", entry["path"])
    return identity


def _write(store: ResultStore, rel: str, tables: list[pa.Table], identities: list[dict]) -> int:
    """Write the compacted file (temporary name, then rename); its size. StoreWriteError when a step fails."""
    target = store.path(rel)
    tmp = f"{target}.tmp-{uuid.uuid4().hex}"
    with writing(target, " The shard files stay as they are."):
        store.fs.create_dir(posixpath.dirname(target), recursive=True)
        try:
            write_compacted(store.fs, tmp, [t.cast(RECORD_SCHEMA) for t in tables], identities)
        except BaseException:
            store._discard(tmp)
            raise
        store.fs.move(tmp, target)
        return store.fs.get_file_info(target).size


def _check(store: ResultStore, rel: str, entries: list[dict]) -> None:
    """Read the new file back in full: every row group intact and the shard's; else StoreWriteError (nothing
    changed: the manifest still names the shard files)."""
    for entry, found in read_row_groups(store.fs, store.base, rel, entries, RECORD_SCHEMA):
        if isinstance(found, str):
            raise StoreWriteError(
                f"the compacted file does not read back intact ({found}); nothing was changed, the shard files "
                "stay listed",
                source=store.path(rel),
            )


def _leftovers(store: ResultStore) -> list[str]:
    """Files the manifest does not name that a compaction left: compacted files (their rows are in listed
    files) and shard files whose shard the manifest lists in a compacted file that came from them."""
    entries = store.manifest()
    named = {p for e in entries for p in (e["path"], e.get("rescored_from")) if p}
    compacted_from = {e.get("compacted_from") for e in entries if "row_group" in e}
    out = [p for p in store.files_under(COMPACT_DIR) if p not in named]
    return out + [p for p in store.files_under("shards") if p not in named and p in compacted_from]


def _delete(store: ResultStore, rels: list[str]) -> int:
    """Delete these files (concurrently: an object store answers each in one round trip)."""
    with ThreadPoolExecutor(max_workers=CHECK_THREADS) as pool:
        list(pool.map(lambda rel: store.fs.delete_file(store.path(rel)), rels))
    return len(rels)
