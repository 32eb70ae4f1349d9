"""One shard's Parquet file: written with page checksums and its identity in the key-value metadata, checked
cheaply (size and footer) when a run decides what to skip, and fully (every page checksum) when read.

Identity: the key-value entry `evalfleet.shard` holds the shard's manifest entry (fingerprint, task,
model, index, row counts, seconds) as JSON, so the manifest can be rebuilt from the files alone.
Files written before it existed have no such key: their identity comes from the path layout
(shards/<task>/<model>/<fingerprint>.parquet) and their rows (`evalfleet.store.repair`).
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

IDENTITY_KEY = b"evalfleet.shard"
"""Parquet key-value metadata key holding the shard's manifest entry (JSON)."""
PAYLOADS_KEY = b"evalfleet.payloads"
"""Parquet key-value metadata key holding the shard's full fingerprint payloads (JSON)."""
READ_ERRORS = (OSError, ValueError, pa.ArrowException)
"""What pyarrow raises on a damaged file (OSError: I/O, thrift, checksum; ValueError/ArrowInvalid: magic, schema)."""


@dataclass(frozen=True)
class ShardProblem:
    """A stored shard that cannot be used as it is."""

    fingerprint: str
    """The shard's fingerprint."""
    task: str
    """Task id (from the manifest entry or the file's identity)."""
    model: str
    """Model id."""
    index: int | None
    """Shard index within the task, when known."""
    path: str
    """The file, relative to the results root."""
    reason: str
    """What is wrong: missing, truncated, unreadable footer, a failed page checksum, another shard's rows."""

    def describe(self) -> str:
        """'task model #index (path): reason'."""
        index = f" #{self.index}" if self.index is not None else ""
        return f"{self.task} {self.model}{index} ({self.path}): {self.reason}"


def problem(entry: dict, reason: str) -> ShardProblem:
    """A ShardProblem about the shard of manifest `entry`."""
    return ShardProblem(
        fingerprint=entry.get("fingerprint", ""),
        task=entry.get("task", "?"),
        model=entry.get("model", "?"),
        index=entry.get("index"),
        path=entry.get("path", "?"),
        reason=reason,
    )


def identity_metadata(entry: dict) -> dict[bytes, bytes]:
    """Key-value metadata that makes a shard file self-describing."""
    return {IDENTITY_KEY: json.dumps(entry, sort_keys=True).encode("utf-8")}


def file_identity(meta: pq.FileMetaData) -> dict | None:
    """The manifest entry stored in a file's footer, or None for a file written before identities existed."""
    raw = (meta.metadata or {}).get(IDENTITY_KEY)
    if raw is None:
        return None
    try:
        identity = json.loads(raw)
    except ValueError:
        raise ValueError("damaged evalfleet.shard metadata in the footer") from None
    if not isinstance(identity, dict) or not isinstance(identity.get("fingerprint"), str):
        raise ValueError("damaged evalfleet.shard metadata in the footer")
    return identity


def write_file(fs: pafs.FileSystem, path: str, table: pa.Table, entry: dict, payloads: dict | None = None) -> None:
    """Write `table` to `path` with page checksums, `entry` as its identity and its fingerprint payloads."""
    meta = identity_metadata(entry)
    if payloads is not None:
        meta[PAYLOADS_KEY] = json.dumps(payloads, sort_keys=True, default=list).encode("utf-8")
    table = table.replace_schema_metadata(meta)
    pq.write_table(table, path, filesystem=fs, write_page_checksum=True)


def metadata_problem(meta: pq.FileMetaData, entry: dict, known: set[str]) -> str | None:
    """What the footer says is wrong with the file of `entry` (None: consistent). `known`: valid column names."""
    identity = file_identity(meta)
    if identity is not None and identity["fingerprint"] != entry["fingerprint"]:
        return f"the file holds shard {identity['fingerprint']}, not {entry['fingerprint']}"
    if "n_rows" in entry and meta.num_rows != entry["n_rows"]:
        return f"{meta.num_rows} rows in the file, the manifest says {entry['n_rows']}"
    unknown = sorted(set(column_names(meta)) - known)
    if unknown:
        return f"unknown columns in the footer: {', '.join(unknown)} (damaged schema)"
    return None


def column_names(meta: pq.FileMetaData) -> list[str]:
    """The file's top-level column names, from the first row group's column paths. (pyarrow's `meta.schema` keeps
    ~1 MiB per call of a footer with large key-value metadata when called outside the main thread.)"""
    if meta.num_row_groups == 0:
        return list(meta.schema.to_arrow_schema().names)
    first = meta.row_group(0)
    return list(dict.fromkeys(first.column(i).path_in_schema.split(".")[0] for i in range(meta.num_columns)))


def footer_problem(fs: pafs.FileSystem, base: str, entry: dict, known: set[str]) -> str | None:
    """The cheap check: the file exists, has the recorded size, its footer parses and names this shard.

    Reads the file's size and its footer (a few KiB at the end), never the data pages."""
    try:
        with fs.open_input_file(posixpath.join(base, entry["path"])) as f:
            size = f.size()
            if entry.get("bytes") is not None and size != entry["bytes"]:
                return size_reason(size, entry["bytes"])
            meta = pq.read_metadata(f)
    except FileNotFoundError:
        return "file missing"
    except READ_ERRORS as exc:
        return f"unreadable footer: {first_line(exc)}"
    try:
        return metadata_problem(meta, entry, known)
    except READ_ERRORS as exc:
        return f"unreadable footer: {first_line(exc)}"


def size_reason(size: int, recorded: int) -> str:
    """'truncated: ...' or 'size changed: ...'."""
    if size < recorded:
        return f"truncated: {size} bytes, {recorded} were written"
    return f"size changed: {size} bytes, {recorded} were written"


def read_verified(
    fs: pafs.FileSystem, base: str, entry: dict, schema: pa.Schema, columns: list[str] | None = None
) -> pa.Table:
    """Every row of the file of `entry`, each page's checksum verified, conformed to `schema`.

    `columns`: read only these (and `shard`, to check the rows' identity); the result then has only
    these columns of `schema`. Raises FileNotFoundError, or ValueError with the reason the file cannot be trusted."""
    known = set(schema.names)
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in dict.fromkeys(["shard", *columns])])
    with fs.open_input_file(posixpath.join(base, entry["path"])) as f:
        if entry.get("bytes") is not None and f.size() != entry["bytes"]:
            raise ValueError(size_reason(f.size(), entry["bytes"]))
        try:
            parquet = pq.ParquetFile(f, page_checksum_verification=True)
            reason = metadata_problem(parquet.metadata, entry, known)
            names = set(column_names(parquet.metadata))
            present = [c for c in schema.names if c in names]
            table = None if reason else parquet.read(columns=present)
        except READ_ERRORS as exc:
            raise ValueError(damage_reason(exc)) from None
    if reason:
        raise ValueError(reason)
    table = conform(table, schema)
    reason = foreign_rows(table, entry["fingerprint"])
    if reason:
        raise ValueError(reason)
    return table


def foreign_rows(table: pa.Table, fingerprint: str) -> str | None:
    """Why `table` is not only shard `fingerprint`'s rows (None: it is), checked on its `shard` column."""
    others = set(pc.unique(table.column("shard")).to_pylist()) - {fingerprint}
    if others:
        return f"rows of another shard inside ({', '.join(sorted(map(str, others))[:3])})"
    return None


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """`table` with `schema`'s columns in order (absent ones null: files of older versions), no metadata."""
    columns = [
        _typed(table.column(f.name), f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def _typed(column: pa.ChunkedArray, kind: pa.DataType) -> pa.ChunkedArray:
    return column if column.type == kind else column.cast(kind)


def damage_reason(exc: BaseException) -> str:
    """A short reason for a read error: checksum, truncation, or the first line of pyarrow's message."""
    text = first_line(exc)
    if "checksum" in text.lower():
        return f"page checksum failed: {text}"
    if "magic bytes" in text or "file size" in text.lower():
        return f"truncated or not Parquet: {text}"
    return f"unreadable: {text}"


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (pyarrow's carry long multi-line details)."""
    text = str(exc).strip()
    return (text.splitlines()[0].rstrip(" :") if text else type(exc).__name__)[:300]
