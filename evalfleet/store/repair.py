"""Rebuild RESULTS/manifest.jsonl from the shard files themselves (`evalfleet repair RESULTS`).

Every shards/**/*.parquet file, and every compacted file (compact/**/*.parquet: one shard per row group,
identities in its footer), is read in full (page checksums verified). An intact file is listed
under the identity in its footer (`evalfleet.shard` key-value metadata); a file written before
identities existed gets it from its rows (shard, task, model columns), the path layout
(shards/<task>/<model>/<fingerprint>.parquet) and the old manifest's line where one is intact.
A damaged file, and a leftover temporary file of an interrupted write, is moved to quarantine/.
The old manifest is kept aside under quarantine/ (never deleted) and the new one replaces it
atomically, so no record that was readable before is lost. Not to be run while a run writes here.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

import pyarrow.compute as pc
import pyarrow.parquet as pq

from evalfleet.errors import EvalfleetError
from evalfleet.store.compactfile import COMPACT_DIR, compacted_identities, read_row_groups
from evalfleet.store.manifest import MANIFEST, entry_line, parse_manifest
from evalfleet.store.quarantine import LOG, append, aside_path, move_aside
from evalfleet.store.results import RECORD_SCHEMA, ResultStore
from evalfleet.store.shardfile import READ_ERRORS, ShardProblem, file_identity, first_line, problem, read_verified


@dataclass(frozen=True)
class RepairReport:
    """What `repair` found and did."""

    listed: int
    """Shards in the rebuilt manifest."""
    before: int
    """Intact entries of the old manifest."""
    bad_lines: tuple[int, ...]
    """Malformed (or torn) lines of the old manifest."""
    adopted: tuple[str, ...]
    """Intact files the old manifest did not list (an interrupted write or a lost line), now listed."""
    dropped: tuple[ShardProblem, ...]
    """Old entries without an intact file: the next run recomputes them."""
    quarantined: tuple[ShardProblem, ...]
    """Damaged shard files moved to quarantine/."""
    from_layout: tuple[str, ...]
    """Files without identity metadata (written by an older evalfleet): identity from path, rows, old line."""
    temporaries: tuple[str, ...]
    """Temporary files of interrupted writes, moved to quarantine/."""
    old_manifest: str | None
    """Where the old manifest was kept (relative to the root); None when there was none (or a dry run)."""


@dataclass(frozen=True)
class _Found:
    """One intact shard file."""

    entry: dict
    """Its manifest entry (index None when unknown yet)."""
    first_item: str
    """Its smallest item id (orders the shards of a task and model when no index is recorded)."""
    from_layout: bool
    """True when the file carries no identity metadata."""


def repair(store: ResultStore, *, dry_run: bool = False) -> RepairReport:
    """Rebuild `store`'s manifest from its shard files (see the module); `dry_run` only reports."""
    text = store.read_text(MANIFEST)
    old = parse_manifest(text or "", source=store.path(MANIFEST), lenient=True)
    files, temporaries = _shard_files(store)
    if text is None and not files and not temporaries:
        raise EvalfleetError("nothing to repair: no manifest.jsonl and no shard files", source=store.path(""))
    hits: dict[str, list[_Found]] = {}
    quarantined: list[ShardProblem] = []
    for rel in files:
        compacted = rel.startswith(f"{COMPACT_DIR}/")
        examined = _examine_compacted(store, rel) if compacted else [_examine(store, rel, old.entries)]
        bad = [hit for hit in examined if isinstance(hit, ShardProblem)]
        good = [hit for hit in examined if not isinstance(hit, ShardProblem)]
        quarantined += bad
        if bad and not good and not dry_run:  # a compacted file with intact row groups stays, for those
            move_aside(store.fs, store.base, rel, bad[0].reason)
        for hit in good:
            hits.setdefault(hit.entry["fingerprint"], []).append(hit)
    found = {fp: _latest(same) for fp, same in hits.items()}
    entries = _with_indexes(list(found.values()))
    dropped = tuple(
        problem(e, "no intact file: the next run recomputes it") for fp, e in old.entries.items() if fp not in found
    )
    if not dry_run:
        for rel in temporaries:
            move_aside(store.fs, store.base, rel, "temporary file of an interrupted write")
    kept = _replace_manifest(store, text, entries) if not dry_run else None
    return RepairReport(
        listed=len(entries),
        before=len(old.entries),
        bad_lines=old.bad_lines + ((old.torn_line,) if old.torn_line else ()),
        adopted=tuple(e["path"] for e in entries if e["fingerprint"] not in old.entries),
        dropped=dropped,
        quarantined=tuple(quarantined),
        from_layout=tuple(f.entry["path"] for f in found.values() if f.from_layout),
        temporaries=tuple(temporaries),
        old_manifest=kept,
    )


def _shard_files(store: ResultStore) -> tuple[list[str], list[str]]:
    """(shard and compacted files, temporary files) under RESULTS/shards and RESULTS/compact, relative to the
    root, sorted."""
    rels = store.files_under("shards", COMPACT_DIR)
    return [r for r in rels if r.endswith(".parquet")], [r for r in rels if ".tmp-" in posixpath.basename(r)]


def _examine_compacted(store: ResultStore, rel: str) -> list[_Found | ShardProblem]:
    """Read a compacted file in full: one entry per row group, or the problems that send it to quarantine."""
    guess = {"fingerprint": "?", "task": "?", "model": "?", "path": rel}
    try:
        with store.fs.open_input_file(store.path(rel)) as f:
            size = f.size()
            identities = compacted_identities(pq.read_metadata(f))
    except READ_ERRORS as exc:
        return [problem(guess, first_line(exc))]
    if identities is None:
        return [problem(guess, "a file under compact/ without evalfleet.compacted metadata")]
    entries = [{**identity, "path": rel, "row_group": k, "bytes": size} for k, identity in enumerate(identities)]
    found: list[_Found | ShardProblem] = []
    for entry, table in read_row_groups(store.fs, store.base, rel, entries, RECORD_SCHEMA):
        if isinstance(table, str):
            found.append(problem(entry, table))
            continue
        first = pc.min(table.column("item_id")).as_py() if table.num_rows else ""
        found.append(_Found(entry=entry, first_item=first or "", from_layout=False))
    return found


def _examine(store: ResultStore, rel: str, old: dict[str, dict]) -> _Found | ShardProblem:
    """Read one file in full: its entry, or the problem that sends it to quarantine."""
    stem = posixpath.basename(rel).split(".")[0]  # <fingerprint>[.<scoring>].parquet
    guess = next((e for e in old.values() if e["path"] == rel), None) or _layout_entry(rel, stem)
    try:
        with store.fs.open_input_file(store.path(rel)) as f:
            size = f.size()
            identity = file_identity(pq.read_metadata(f))
        entry = {**guess, **(identity or {}), "path": rel}
        table = read_verified(store.fs, store.base, {"fingerprint": entry["fingerprint"], "path": rel}, RECORD_SCHEMA)
    except READ_ERRORS as exc:
        return problem(guess, first_line(exc))
    if identity is None and table.num_rows:
        entry.update(task=table.column("task")[0].as_py() or entry["task"], model=table.column("model")[0].as_py())
    entry.update(n_rows=table.num_rows, n_errors=table.num_rows - table.column("error").null_count, bytes=size)
    entry.setdefault("seconds", 0.0)
    first = pc.min(table.column("item_id")).as_py() if table.num_rows else ""
    return _Found(entry=entry, first_item=first or "", from_layout=identity is None)


def _latest(hits: list[_Found]) -> _Found:
    """Of the intact files of one shard, the one no other was re-scored into (the current scores)."""
    superseded = {h.entry.get("rescored_from") for h in hits}
    current = [h for h in hits if h.entry["path"] not in superseded]
    return sorted(current or hits, key=lambda h: h.entry["path"])[-1]


def _layout_entry(rel: str, stem: str) -> dict:
    """An entry from the path alone: shards/<task>/<model>/<fingerprint>.parquet (':' of variants was '@')."""
    parts = rel.split("/")
    task = parts[1].replace("@", ":") if len(parts) == 4 else "?"
    model = parts[2] if len(parts) == 4 else "?"
    return {"fingerprint": stem, "task": task, "model": model, "path": rel}


def _with_indexes(found: list[_Found]) -> list[dict]:
    """Entries sorted by (task, model, index); a missing index is the rank of the file's first item id
    among those of its task and model (shards are contiguous slices of the sorted item ids)."""
    firsts: dict[tuple[str, str], list[str]] = {}
    for f in found:
        firsts.setdefault((f.entry["task"], f.entry["model"]), []).append(f.first_item)
    ranks = {key: {item: n for n, item in enumerate(sorted(set(items)))} for key, items in firsts.items()}
    entries = []
    for f in found:
        index = f.entry.get("index")
        if not isinstance(index, int):
            index = ranks[(f.entry["task"], f.entry["model"])][f.first_item]
        entries.append({**f.entry, "index": index})
    return sorted(entries, key=lambda e: (e["task"], e["model"], e["index"], e["fingerprint"]))


def _replace_manifest(store: ResultStore, text: str | None, entries: list[dict]) -> str | None:
    """Keep the old manifest aside (quarantine/manifest.<time>.jsonl), then replace it atomically."""
    kept = None
    if text is not None:
        kept = aside_path(MANIFEST)
        store.write_text(kept, text)
        line = entry_line({"from": MANIFEST, "to": kept, "reason": "replaced by evalfleet repair"})
        append(store.fs, store.path(LOG), line)
    store.write_text(MANIFEST, "".join(entry_line(e) for e in entries))
    store.reload()
    return kept
