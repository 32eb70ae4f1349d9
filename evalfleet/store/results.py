"""The result store: one Parquet file per shard, a manifest, run logs, the run's config.

    RESULTS/shards/<task>/<model>/<fingerprint>.parquet   one row per (item, sample): RECORD_SCHEMA
    RESULTS/manifest.jsonl                                one line per stored shard
    RESULTS/runs/<run-id>.jsonl                           run log: start / shard_done / shard_retry / shard_failed / end
    RESULTS/run.yaml                                      the config of the latest run (edition, track, ...)
    RESULTS/.cache/model-hashes.json                      checkpoint file digests by (path, size, mtime)

Only the driver writes. A shard file is written to a temporary name and renamed, then its manifest
line is appended: a crash in between leaves a file without a line, which the next run recomputes
and rewrites identically. The root may be a local path or any pyarrow filesystem URI (s3://, gs://, ...).
"""

from __future__ import annotations

import json
import posixpath
import uuid
from typing import Any, Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import yaml

from evalfleet.errors import EvalfleetError
from evalfleet.types import Shard

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


def open_root(root: str) -> tuple[pafs.FileSystem, str]:
    """(filesystem, base path) of a local directory or a filesystem URI."""
    if "://" in root:
        return pafs.FileSystem.from_uri(root)
    import os

    return pafs.LocalFileSystem(), os.path.abspath(root)


class ResultStore:
    """Read and (driver only) write the results root `root`."""

    def __init__(self, root: str):
        self.root = str(root)
        self.fs, self.base = open_root(self.root)
        self._manifest: dict[str, dict] | None = None
        self.run_id: str | None = None
        """Name of this run's log file (set by the first `log` call)."""

    # ---- paths and small file helpers -------------------------------------------------------
    def path(self, *parts: str) -> str:
        return posixpath.join(self.base, *parts)

    def shard_path(self, shard: Shard) -> str:
        return posixpath.join("shards", _safe(shard.task.id), _safe(shard.model.id), f"{shard.fingerprint}.parquet")

    def _exists(self, rel: str) -> bool:
        return self.fs.get_file_info(self.path(rel)).type == pafs.FileType.File

    def read_text(self, rel: str) -> str | None:
        """Text of RESULTS/rel, or None when absent."""
        if not self._exists(rel):
            return None
        with self.fs.open_input_stream(self.path(rel)) as f:
            return f.read().decode("utf-8")

    def write_text(self, rel: str, text: str) -> None:
        """Replace RESULTS/rel atomically (temporary name, then rename)."""
        target = self.path(rel)
        self.fs.create_dir(posixpath.dirname(target), recursive=True)
        tmp = f"{target}.tmp-{uuid.uuid4().hex}"
        with self.fs.open_output_stream(tmp) as f:
            f.write(text.encode("utf-8"))
        self.fs.move(tmp, target)

    def append_line(self, rel: str, obj: dict) -> None:
        """Append one JSON line to RESULTS/rel (rewrite where the filesystem cannot append)."""
        line = (json.dumps(obj, sort_keys=True) + "\n").encode("utf-8")
        target = self.path(rel)
        self.fs.create_dir(posixpath.dirname(target), recursive=True)
        try:
            with self.fs.open_append_stream(target) as f:
                f.write(line)
        except (pa.ArrowNotImplementedError, NotImplementedError, OSError):
            self.write_text(rel, (self.read_text(rel) or "") + line.decode("utf-8"))

    # ---- shards -----------------------------------------------------------------------------
    def manifest(self) -> list[dict]:
        """One entry per stored shard (the last line wins for a fingerprint written twice)."""
        return list(self._entries().values())

    def _entries(self) -> dict[str, dict]:
        if self._manifest is None:
            entries: dict[str, dict] = {}
            for n, line in enumerate((self.read_text("manifest.jsonl") or "").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    entry = json.loads(line)
                    entries[entry["fingerprint"]] = entry
                except (ValueError, KeyError, TypeError):
                    raise EvalfleetError(
                        f"line {n}: malformed manifest line", source=self.path("manifest.jsonl")
                    ) from None
            self._manifest = entries
        return self._manifest

    def has(self, fingerprint: str) -> bool:
        """True when a shard with this fingerprint is stored (manifest line and file)."""
        entry = self._entries().get(fingerprint)
        return entry is not None and self._exists(entry["path"])

    def write_shard(self, shard: Shard, table: pa.Table, seconds: float) -> dict:
        """Write the shard's rows (temp file + rename), then its manifest line; return the entry."""
        table = table.cast(RECORD_SCHEMA) if table.schema != RECORD_SCHEMA else table
        rel = self.shard_path(shard)
        target = self.path(rel)
        self.fs.create_dir(posixpath.dirname(target), recursive=True)
        tmp = f"{target}.tmp-{uuid.uuid4().hex}"
        pq.write_table(table, tmp, filesystem=self.fs)
        self.fs.move(tmp, target)
        errors = table.column("error").null_count
        entry = {
            "fingerprint": shard.fingerprint,
            "task": shard.task.id,
            "model": shard.model.id,
            "index": shard.index,
            "n_rows": table.num_rows,
            "n_errors": table.num_rows - errors,
            "path": rel,
            "seconds": round(seconds, 4),
        }
        self.append_line("manifest.jsonl", entry)
        self._entries()[shard.fingerprint] = entry
        return entry

    def read_shard(self, rel: str) -> pa.Table:
        """The rows of one stored shard file."""
        return pq.read_table(self.path(rel), filesystem=self.fs, schema=RECORD_SCHEMA)

    def read_table(self, tasks: Iterable[str] | None = None, *, skip_missing: bool = False) -> pa.Table:
        """All rows of all stored shards (optionally only these task ids), as Arrow; a listed file
        that is missing raises unless `skip_missing` (verify reports it instead)."""
        wanted = set(tasks) if tasks is not None else None
        entries = sorted(self.manifest(), key=lambda e: (e["task"], e["model"], e.get("index", 0), e["fingerprint"]))
        entries = [
            e
            for e in entries
            if (wanted is None or e["task"] in wanted) and (not skip_missing or self._exists(e["path"]))
        ]
        tables = [self.read_shard(e["path"]) for e in entries]
        return pa.concat_tables(tables) if tables else RECORD_SCHEMA.empty_table()

    def read_records(self, tasks: Iterable[str] | None = None, *, skip_missing: bool = False) -> pd.DataFrame:
        """All rows as a DataFrame; `metrics` parsed into a dict per row, `logliks` a list (or None)."""
        frame = self.read_table(tasks, skip_missing=skip_missing).to_pandas()
        frame["metrics"] = [json.loads(m) if m else {} for m in frame["metrics"]]
        for column in ("logliks", "loglik_tokens", "loglik_context_tokens", "loglik_greedy"):
            frame[column] = [list(v) if v is not None else None for v in frame[column]]
        return frame

    # ---- run config, logs, caches -----------------------------------------------------------
    def save_run_config(self, config: Any) -> None:
        """Write RESULTS/run.yaml (a RunConfig or a mapping)."""
        from dataclasses import asdict, is_dataclass

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
        """Append one event (with a UTC timestamp) to this run's log RESULTS/runs/<run_id>.jsonl."""
        import time

        if self.run_id is None:
            self.run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
        self.append_line(posixpath.join("runs", f"{self.run_id}.jsonl"), {"time": round(time.time(), 3), **event})

    def load_json(self, rel: str, default: Any) -> Any:
        """JSON document at RESULTS/rel, or `default` when absent or unreadable."""
        text = self.read_text(rel)
        try:
            return json.loads(text) if text else default
        except ValueError:
            return default

    def save_json(self, rel: str, obj: Any) -> None:
        self.write_text(rel, json.dumps(obj, sort_keys=True))


def _safe(name: str) -> str:
    """A task or model id as a path component (':' of variants becomes '@')."""
    return name.replace(":", "@").replace("/", "_")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
