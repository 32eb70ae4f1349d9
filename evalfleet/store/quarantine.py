"""RESULTS/quarantine/: damaged files are moved here, never deleted, so nothing is lost to a wrong diagnosis.

RESULTS/quarantine/<original path>.<UTC time>-<random>.<suffix>   the file as it was
RESULTS/quarantine/quarantine.jsonl                               one line per move: from, to, reason, time
"""

from __future__ import annotations

import json
import posixpath
import time
import uuid

import pyarrow.fs as pafs

QUARANTINE = "quarantine"
"""The quarantine folder inside a results root."""
LOG = posixpath.join(QUARANTINE, "quarantine.jsonl")
"""One JSON line per quarantined file."""


def aside_path(rel: str) -> str:
    """Where RESULTS/rel goes: under quarantine/, its name stamped so repeated moves never collide."""
    stem, dot, suffix = posixpath.basename(rel).rpartition(".")
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:6]
    name = f"{stem}.{stamp}.{suffix}" if dot and stem else f"{posixpath.basename(rel)}.{stamp}"
    return posixpath.join(QUARANTINE, posixpath.dirname(rel), name)


def move_aside(fs: pafs.FileSystem, base: str, rel: str, reason: str) -> str:
    """Move RESULTS/rel under quarantine/ and log why; return its new relative path."""
    dest = aside_path(rel)
    fs.create_dir(posixpath.dirname(posixpath.join(base, dest)), recursive=True)
    fs.move(posixpath.join(base, rel), posixpath.join(base, dest))
    line = json.dumps({"from": rel, "to": dest, "reason": reason, "time": round(time.time(), 3)}, sort_keys=True)
    append(fs, posixpath.join(base, LOG), line + "\n")
    return dest


def append(fs: pafs.FileSystem, path: str, text: str) -> None:
    """Append to a log file (rewrite it where the filesystem cannot append)."""
    try:
        stream = fs.open_append_stream(path)
    except (NotImplementedError, OSError):
        old = ""
        if fs.get_file_info(path).type == pafs.FileType.File:
            with fs.open_input_stream(path) as f:
                old = f.read().decode("utf-8", errors="replace")
        with fs.open_output_stream(path) as f:
            f.write((old + text).encode("utf-8"))
        return
    with stream as f:
        f.write(text.encode("utf-8"))
