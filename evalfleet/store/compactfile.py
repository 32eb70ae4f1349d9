"""A compacted file: the shards of one (task, model) in one Parquet file, one row group per shard.

    RESULTS/compact/<task>/<model>/<digest>.parquet

Written with page checksums like a shard file; its footer's key-value entry `evalfleet.compacted` lists
each row group's shard identity (the shard's manifest entry, in row-group order), so the manifest can be
rebuilt from the files alone (`evalfleet repair`). A manifest entry of a compacted shard names the file
and its `row_group`; `bytes` is the whole file's size. Reading one shard reads its row group only;
reading a group reads the file's row groups in one call (`read_row_groups`).
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from evalfleet.store.shardfile import READ_ERRORS, column_names, conform, damage_reason, foreign_rows, size_reason

COMPACTED_KEY = b"evalfleet.compacted"
"""Parquet key-value metadata key holding the row groups' shard identities (a JSON list)."""
COMPACT_DIR = "compact"
"""Folder of the compacted files inside a results root."""


def compacted_identities(meta: pq.FileMetaData) -> list[dict] | None:
    """The shard identities of a compacted file's row groups, or None for a file that is not compacted."""
    raw = (meta.metadata or {}).get(COMPACTED_KEY)
    if raw is None:
        return None
    try:
        identities = json.loads(raw)
    except ValueError:
        raise ValueError("damaged evalfleet.compacted metadata in the footer") from None
    if not isinstance(identities, list) or not all(
        isinstance(i, dict) and isinstance(i.get("fingerprint"), str) for i in identities
    ):
        raise ValueError("damaged evalfleet.compacted metadata in the footer")
    return identities


def write_compacted(fs: pafs.FileSystem, path: str, tables: list[pa.Table], identities: list[dict]) -> None:
    """Write `tables` (one per shard, none empty) as the row groups of `path`, `identities` in the footer."""
    schema = tables[0].schema.with_metadata({COMPACTED_KEY: json.dumps(identities, sort_keys=True).encode()})
    with pq.ParquetWriter(path, schema, filesystem=fs, write_page_checksum=True) as writer:
        for table in tables:
            writer.write_table(table.replace_schema_metadata(schema.metadata), row_group_size=table.num_rows)


@dataclass(frozen=True)
class Footer:
    """What a compacted file's footer says, kept small (a resume holds one per (task, model) file)."""

    fingerprints: tuple[str, ...]
    """The shard of each row group, in order."""
    rows: tuple[int, ...]
    """The rows of each row group."""
    columns: tuple[str, ...]
    """The file's column names."""


def footer(meta: pq.FileMetaData) -> Footer:
    """The Footer of a compacted file's metadata; ValueError when it is not a compacted file's (or damaged)."""
    identities = compacted_identities(meta)
    if identities is None:
        raise ValueError("not a compacted file (no evalfleet.compacted metadata)")
    return Footer(
        fingerprints=tuple(i["fingerprint"] for i in identities),
        rows=tuple(meta.row_group(k).num_rows for k in range(meta.num_row_groups)),
        columns=tuple(column_names(meta)),
    )


def row_group_problem(found: Footer, entry: dict) -> str | None:
    """What the footer says is wrong with the row group of a compacted shard's `entry` (None: consistent)."""
    k = entry["row_group"]
    if not 0 <= k < min(len(found.fingerprints), len(found.rows)):
        return f"no row group {k} in the compacted file"
    if found.fingerprints[k] != entry["fingerprint"]:
        return f"row group {k} holds shard {found.fingerprints[k]}, not {entry['fingerprint']}"
    if "n_rows" in entry and found.rows[k] != entry["n_rows"]:
        return f"{found.rows[k]} rows in row group {k}, the manifest says {entry['n_rows']}"
    return None


def read_row_groups(
    fs: pafs.FileSystem, base: str, path: str, entries: list[dict], schema: pa.Schema
) -> list[tuple[dict, pa.Table | str]]:
    """Each entry's rows (conformed to `schema`) or the reason they cannot be trusted, from one compacted file
    opened once; every page read is checksum-verified. Raises FileNotFoundError when the file is missing."""
    with fs.open_input_file(posixpath.join(base, path)) as f:
        recorded = next((e["bytes"] for e in entries if e.get("bytes") is not None), None)
        if recorded is not None and f.size() != recorded:
            return [(e, size_reason(f.size(), recorded)) for e in entries]
        try:
            parquet = pq.ParquetFile(f, page_checksum_verification=True)
            found = footer(parquet.metadata)
            reasons = {id(e): row_group_problem(found, e) for e in entries}
        except READ_ERRORS as exc:
            return [(e, damage_reason(exc)) for e in entries]
        names = set(column_names(parquet.metadata))
        present = [c for c in schema.names if c in names]
        good = [e for e in entries if reasons[id(e)] is None]
        tables = _read(parquet, good, present, schema)
    out = []
    for entry in entries:
        table = tables.get(id(entry), reasons[id(entry)])
        if isinstance(table, pa.Table):
            table = foreign_rows(table, entry["fingerprint"]) or table
        out.append((entry, table))
    return out


def _read(
    parquet: pq.ParquetFile, entries: list[dict], columns: list[str], schema: pa.Schema
) -> dict[int, pa.Table | str]:
    """Row groups of `entries` (conformed to `schema`) in one read; after a failure, one by one, so the damage
    is named per shard."""
    groups = [e["row_group"] for e in entries]
    try:
        whole = conform(parquet.read_row_groups(groups, columns=columns), schema) if groups else None
    except READ_ERRORS:
        whole = None
    if whole is not None:
        out, offset = {}, 0
        for entry, k in zip(entries, groups):
            rows = parquet.metadata.row_group(k).num_rows
            out[id(entry)] = whole.slice(offset, rows)
            offset += rows
        return out
    out = {}
    for entry in entries:
        try:
            out[id(entry)] = conform(parquet.read_row_group(entry["row_group"], columns=columns), schema)
        except READ_ERRORS as exc:
            out[id(entry)] = damage_reason(exc)
    return out


def footer_of(fs: pafs.FileSystem, base: str, path: str) -> tuple[int, Footer] | str:
    """(size, Footer) of a compacted file, or why it cannot be read ('file missing', 'unreadable footer: ...')."""
    try:
        with fs.open_input_file(posixpath.join(base, path)) as f:
            return f.size(), footer(pq.read_metadata(f))
    except FileNotFoundError:
        return "file missing"
    except READ_ERRORS as exc:
        return f"unreadable footer: {damage_reason(exc)}"
