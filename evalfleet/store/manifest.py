"""RESULTS/manifest.jsonl: one JSON line per stored shard, parsed so that an interrupted append is not fatal.

An append is one small write; a crash, a power loss or a full disk during it can leave a partial
*last* line (or trailing NUL bytes). That line is skipped with a warning: the shard it described
is recomputed by the next run (its file, if complete, is simply rewritten), and the next write
removes the torn text before appending. A malformed line with intact lines after it cannot come
from an interrupted append: it is damage, named by its line number, and `evalfleet repair RESULTS`
rebuilds the manifest from the shard files themselves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from evalfleet.errors import EvalfleetError

MANIFEST = "manifest.jsonl"
"""The manifest's path inside a results root."""
MANIFEST_D = "manifest.d"
"""Where roots that cannot append (object stores) put each manifest line as an object of its own; read as if
appended to manifest.jsonl in name (= time) order, folded into it by `evalfleet compact`."""
REQUIRED = ("fingerprint", "path", "task", "model")
"""Keys every manifest entry has (strings)."""


@dataclass(frozen=True)
class ManifestRead:
    """What a parse of manifest.jsonl found."""

    entries: dict[str, dict]
    """Entry per fingerprint (the last line wins for a fingerprint written twice)."""
    clean_text: str
    """The text without a torn last line, ending with a newline (or empty): what the next write starts from."""
    needs_rewrite: bool
    """True when the file on disk is not `clean_text` (a torn last line, or no newline after the last line)."""
    torn_line: int | None = None
    """Number of the torn last line that was skipped, if any."""
    bad_lines: tuple[int, ...] = ()
    """Numbers of malformed lines before the last (only in a lenient parse; a strict parse raises)."""
    warnings: tuple[str, ...] = field(default=())
    """What a reader should be told (a skipped torn line, malformed lines)."""


def entry_line(entry: dict) -> str:
    """One manifest line (sorted keys, newline-terminated)."""
    return json.dumps(entry, sort_keys=True) + "\n"


def parse_entry(line: str) -> dict | None:
    """The entry of one line, or None when it is not a well-formed manifest entry."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in REQUIRED):
        return None
    return entry


def parse_manifest(text: str, *, source: str, lenient: bool = False) -> ManifestRead:
    """Parse manifest text. A malformed last line is torn (skipped, warned); a malformed line before
    intact ones raises EvalfleetError naming it, unless `lenient` (then it is skipped and listed)."""
    lines = text.split("\n")
    ends_clean = lines[-1] == ""
    lines = lines[:-1] if ends_clean else lines
    last = max((n for n, line in enumerate(lines) if line.strip("\x00 \t\r")), default=-1)
    entries: dict[str, dict] = {}
    kept: list[str] = []
    bad: list[int] = []
    torn = None
    for n, line in enumerate(lines[: last + 1]):
        entry = parse_entry(line) if line.strip() else None
        if entry is not None:
            entries[entry["fingerprint"]] = entry
            kept.append(line)
        elif n == last:
            torn = n + 1
        elif line.strip("\x00 \t\r"):
            if not lenient:
                raise EvalfleetError(
                    f"line {n + 1}: malformed manifest line (intact lines follow it, so it is damage, not an "
                    "interrupted write); `evalfleet repair RESULTS` rebuilds the manifest from the shard files "
                    "and keeps this one aside",
                    source=source,
                )
            bad.append(n + 1)
    clean = "".join(f"{line}\n" for line in kept)
    warnings = [f"{source}: line {n}: malformed manifest line skipped (run `evalfleet repair RESULTS`)" for n in bad]
    if torn is not None:
        warnings.append(
            f"{source}: line {torn}: torn last line skipped (an interrupted write); its shard counts as not "
            "stored and the next run recomputes it, removing the torn text"
        )
    return ManifestRead(
        entries=entries,
        clean_text=clean,
        needs_rewrite=clean != text,
        torn_line=torn,
        bad_lines=tuple(bad),
        warnings=tuple(warnings),
    )
