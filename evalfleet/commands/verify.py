"""`evalfleet verify RESULTS`: re-score every recorded output with the current modules, check manifest and files.

Reports every row whose extracted answer or score differs from what is recorded (a changed
extractor, a tampered file); every malformed manifest line; every listed shard whose file is
missing, truncated, unreadable, fails a page checksum, has another row count or another shard's
rows (named by task, model and shard; the other shards are still checked and re-scored); and
every shard file the manifest does not list. Exit status 1 on any problem or difference.
Tasks that execute code to score (SCORE_ON_CPU_TASK) are re-scored only with --code; 'measure' rows are not re-scored.

At scale: the store is read one (task, model) group at a time, each group's shards read once in full
(every page checksum verified) and re-scored in a worker process (`--jobs`, default one per core);
memory is bounded by one group per worker. A progress line on stderr counts groups, rows/s and the ETA.
Differences and problems are printed in (task, model, shard) order whatever order the workers finish in.
"""

from __future__ import annotations

import functools
import math
import os
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass

import pyarrow as pa

from evalfleet import benchmarks
from evalfleet.errors import EvalfleetError
from evalfleet.plan.shards import task_items
from evalfleet.run.evaluate import recorded_logliks, score_item
from evalfleet.spec.taskspec import load_task
from evalfleet.store.compactfile import COMPACT_DIR
from evalfleet.store.manifest import MANIFEST
from evalfleet.store.results import ResultStore, records_frame
from evalfleet.store.shardfile import problem

HELP = "Re-score the recorded outputs with the current code and check the manifest against the files."


def add_arguments(parser) -> None:
    parser.add_argument("results", help="results root written by 'evalfleet run'")
    parser.add_argument("--data-dir", help="official data directory (default: the one in RESULTS/run.yaml)")
    parser.add_argument(
        "--code", action="store_true", help="also re-run code-executing scorers (HumanEval) in the sandbox"
    )
    parser.add_argument("--max-report", type=int, default=20, help="differences printed per kind (default 20)")
    parser.add_argument(
        "--jobs", type=int, default=None, help="worker processes re-scoring groups (default: one per core)"
    )


def check_files(store: ResultStore) -> list[str]:
    """Manifest ↔ files problems: malformed manifest lines, and every listed shard read in full (page
    checksums verified) — each missing, truncated, unreadable or checksum-failing file named with its
    task, model and shard — then every shard file the manifest does not list."""
    problems = manifest_problems(store)
    for group in store.groups().values():  # one (task, model) in memory at a time; a compacted file opened once
        problems += [_unreadable(problem(e, found)) for e, found in store.read_each(group) if isinstance(found, str)]
    return problems + unlisted_files(store)


def manifest_problems(store: ResultStore) -> list[str]:
    """Malformed manifest lines and a torn last line."""
    state = store.manifest_read()
    source = store.path(MANIFEST)
    problems = [f"{source}: line {n}: malformed manifest line (`evalfleet repair RESULTS`)" for n in state.bad_lines]
    if state.torn_line:
        problems.append(f"{source}: line {state.torn_line}: torn last line (an interrupted write)")
    return problems


def unlisted_files(store: ResultStore) -> list[str]:
    """Every shard or compacted file the manifest does not list (a re-scored shard's source counts as listed)."""
    listed = {p for e in store.manifest() for p in (e["path"], e.get("rescored_from")) if p}
    problems = []
    for rel in store.files_under("shards", COMPACT_DIR):
        if rel.endswith(".parquet") and rel not in listed:
            problems.append(
                f"{rel}: shard file not in the manifest (an interrupted write; the next run rewrites it, "
                "`evalfleet repair RESULTS` lists it)"
            )
    return problems


def _unreadable(damage) -> str:
    return f"{damage.describe()} (listed in the manifest but unreadable)"


def _listed_order(entry: dict) -> tuple:
    return (entry["task"], entry["model"], entry.get("index", 0), entry["path"])


class _NoDataDir(Exception):
    """Re-scoring needs the official items and no data directory is known."""


def rescore(records, data_dir: str | None, *, code: bool) -> tuple[list[str], int]:
    """(differences, rows checked) of re-extracting and re-scoring `records`."""
    diffs, checked = [], 0
    for task, rows in records.groupby("task", sort=True):
        spec = load_task(task)
        module = benchmarks.get_module(spec)
        if (
            spec.kind == "measure"
            or getattr(module, "IMPORTED", False)
            or (getattr(module, "SCORE_ON_CPU_TASK", False) and not code)
        ):
            continue
        if not data_dir:
            raise _NoDataDir
        items = _items(task, data_dir)
        for row in rows.itertuples(index=False):
            if row.error is not None and isinstance(row.error, str):
                continue
            item = items.get(row.item_id)
            where = f"{task} {row.model} item {row.item_id} sample {row.sample}"
            if item is None:
                diffs.append(f"{where}: item no longer in the data")
                continue
            lls = None
            if spec.kind == "generate":
                extracted = str(module.extract(row.output, item, spec))
            else:
                lls = recorded_logliks(row._asdict())
                extracted = str(benchmarks.choose(lls, item, spec))
            metrics = score_item(spec, item, extracted, lls)
            metrics.pop("isolation", None)
            score = metrics.get(spec.metric)
            checked += 1
            if extracted != row.extracted:
                diffs.append(f"{where}: extracted {row.extracted!r} recorded, {extracted!r} now")
            elif not _same(score, row.score):
                diffs.append(f"{where}: score {row.score!r} recorded, {score!r} now")
    return diffs, checked


@functools.lru_cache(maxsize=64)
def _items(task: str, data_dir: str) -> dict:
    """The official items of `task` by id (read once per process: every model's group of a task uses them)."""
    return {i.id: i for i in task_items(load_task(task), data_dir)}


def _same(a, b) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        return (a is None or math.isnan(a)) and (b is None or math.isnan(b))
    return abs(float(a) - float(b)) <= 1e-9


@dataclass(frozen=True)
class GroupResult:
    """What verifying one (task, model) group found."""

    key: tuple[str, str]
    """(task, model)."""
    damaged: tuple[str, ...]
    """Each listed shard of the group that is missing or unreadable, named (task, model, shard, path, reason)."""
    diffs: tuple[str, ...]
    """Re-scoring differences, in row order."""
    checked: int
    """Rows re-scored."""
    rows: int
    """Rows read (re-scored or not: the progress line counts them)."""


def verify_group(root: str, key: tuple[str, str], entries: list[dict], data_dir: str | None, code: bool) -> GroupResult:
    """Read each shard of one group once in full (page checksums verified), name the damaged ones, re-score the rest."""
    store = ResultStore(root, lenient_manifest=True)
    tables, damaged = [], []
    for entry, found in store.read_each(sorted(entries, key=_listed_order)):
        if isinstance(found, str):
            damaged.append(_unreadable(problem(entry, found)))
        else:
            tables.append(found)
    tables = [t for t in tables if t is not None]
    rows = sum(t.num_rows for t in tables)
    if not rows:
        return GroupResult(key, tuple(damaged), (), 0, 0)
    diffs, checked = rescore(records_frame(pa.concat_tables(tables)), data_dir, code=code)
    return GroupResult(key, tuple(damaged), tuple(diffs), checked, rows)


@dataclass
class Progress:
    """A periodic progress line on stderr: groups done / total, rows/s, ETA (by groups left at the group rate)."""

    total: int
    """Groups to verify."""
    every_s: float = 5.0
    """Seconds between lines."""
    done: int = 0
    """Groups verified so far."""
    rows: int = 0
    """Rows read so far."""
    started: float = 0.0
    """time.monotonic() at the start."""
    last: float = 0.0
    """time.monotonic() of the last line printed."""

    def __post_init__(self):
        self.started = self.last = time.monotonic()

    def update(self, result: GroupResult) -> None:
        self.done, self.rows = self.done + 1, self.rows + result.rows
        now = time.monotonic()
        if now - self.last >= self.every_s or self.done == self.total:
            self.last = now
            print(self.line(now), file=sys.stderr, flush=True)

    def line(self, now: float) -> str:
        seconds = max(now - self.started, 1e-9)
        eta = (self.total - self.done) * seconds / max(self.done, 1)
        return (
            f"verify: {self.done}/{self.total} groups, {self.rows:,} rows, {self.rows / seconds:,.0f} rows/s, "
            f"{seconds:.0f}s elapsed, ETA {eta:.0f}s"
        )


def verify_groups(store: ResultStore, data_dir: str | None, *, code: bool, jobs: int) -> list[GroupResult]:
    """Every (task, model) group verified (in `jobs` worker processes when > 1), in (task, model) order."""
    groups = store.groups()
    progress = Progress(len(groups))
    args = [(store.root, key, entries, data_dir, code) for key, entries in groups.items()]
    results: dict[tuple[str, str], GroupResult] = {}
    if jobs <= 1 or len(args) <= 1:
        for a in args:
            results[a[1]] = verify_group(*a)
            progress.update(results[a[1]])
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            pending = {pool.submit(verify_group, *a) for a in args}
            while pending:
                finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    result = future.result()
                    results[result.key] = result
                    progress.update(result)
    return [results[key] for key in groups]


def main(args) -> int:
    store = ResultStore(args.results, lenient_manifest=True)
    cfg = store.load_run_config()
    data_dir = args.data_dir or cfg.get("data_dir")
    jobs = getattr(args, "jobs", None) or os.cpu_count() or 1
    try:
        results = verify_groups(store, data_dir, code=args.code, jobs=jobs)
    except _NoDataDir:
        raise EvalfleetError(
            "no data_dir in run.yaml; pass --data-dir", source=store.path("run.yaml"), field="data_dir"
        ) from None
    files = manifest_problems(store) + [d for r in results for d in r.damaged] + unlisted_files(store)
    diffs = [d for r in results for d in r.diffs]
    checked = sum(r.checked for r in results)
    for title, lines in (("manifest/files", files), ("re-scoring", diffs)):
        for line in lines[: args.max_report]:
            print(f"{title}: {line}")
        if len(lines) > args.max_report:
            print(f"{title}: ... and {len(lines) - args.max_report} more")
    print(
        f"verified {len(store.manifest())} shards, {checked} rows re-scored: "
        f"{len(files)} file problems, {len(diffs)} differences",
        file=sys.stdout,
    )
    return 1 if files or diffs else 0
