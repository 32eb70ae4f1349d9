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
Each task's official items are loaded once, by this process, and handed to the workers.

On a Ray cluster (`--ray [ADDRESS]`, else RAY_ADDRESS, else an embedded local Ray): every group is a
Ray CPU task (run/cpu_tasks.py: one CPU each, spread over the nodes, at most twice the cluster's CPUs in
flight), each task's items put in the object store once, so the nodes need no data directory:

    ray job submit --address http://HEAD:8265 -- evalfleet verify s3://bucket/final --ray

Every node reads its groups' shards itself: RESULTS must be readable from every node (an object store
every node has credentials for, or a shared filesystem mounted at the same path); a node that cannot
read it stops the verify with an error naming the node. A group whose task still fails after Ray's
retries (an exception, a dead worker or node) is reported as not verified (exit status 1), as a group
whose verification raises is without --ray; the other groups' output is the same either way.
"""

from __future__ import annotations

import functools
import math
import os
import socket
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

import pyarrow as pa
import pyarrow.fs as pafs

from evalfleet import benchmarks
from evalfleet.errors import EvalfleetError
from evalfleet.plan.shards import task_items
from evalfleet.run.cluster import init_ray
from evalfleet.run.evaluate import recorded_logliks, score_item
from evalfleet.spec.taskspec import load_task
from evalfleet.store.compactfile import COMPACT_DIR
from evalfleet.store.manifest import MANIFEST
from evalfleet.store.records import records_frame
from evalfleet.store.results import ResultStore
from evalfleet.store.shardfile import first_line, problem
from evalfleet.types import Item

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
    parser.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="verify the groups as Ray tasks on the cluster at ADDRESS (else RAY_ADDRESS, else an embedded local "
        "Ray); RESULTS must be readable from every node (--jobs is then unused)",
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


class RootUnreadable(Exception):
    """The results root cannot be read where a group is verified (a Ray node without the mount or credentials).

    args: (the node's host name, why)."""


def rescore(task: str, records, items: Mapping[str, Item]) -> tuple[list[str], int]:
    """(differences, rows checked) of re-extracting and re-scoring `records` (rows of `task`) against its `items`."""
    spec = load_task(task)
    module = benchmarks.get_module(spec)
    diffs, checked = [], 0
    for row in records.itertuples(index=False):
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


@dataclass(frozen=True)
class TaskItems:
    """A task's official items by reference, for a worker process: loaded there once per process (`load`), not
    pickled with every group (BBH's are ~21 MB)."""

    task: str
    """Task id."""
    data_dir: str | None
    """The official data directory."""
    code: bool
    """--code: code-executing scorers are re-run."""

    def load(self) -> dict[str, Item] | None:
        return _items(self.task, self.data_dir, code=self.code)


@functools.lru_cache(maxsize=16)
def _items(task: str, data_dir: str | None, *, code: bool) -> dict[str, Item] | None:
    """The official items of `task` by id; None when its rows are not re-scored ('measure' and imported tasks,
    code-executing scorers without --code)."""
    spec = load_task(task)
    module = benchmarks.get_module(spec)
    if (
        spec.kind == "measure"
        or getattr(module, "IMPORTED", False)
        or (getattr(module, "SCORE_ON_CPU_TASK", False) and not code)
    ):
        return None
    if not data_dir:
        raise _NoDataDir
    return {i.id: i for i in task_items(spec, data_dir)}


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
    failure: str | None = None
    """Why the group was not verified (verifying it raised, or its Ray task failed on every attempt); None if it was."""


def verify_group(
    root: str, key: tuple[str, str], entries: list[dict], items: Mapping[str, Item] | TaskItems | None
) -> GroupResult:
    """Read each shard of one group once in full (page checksums verified), name the damaged ones, re-score the rest
    against the task's official `items` (a TaskItems: loaded here; None: the task's rows are not re-scored)."""
    if isinstance(items, TaskItems):
        items = items.load()
    store = ResultStore(root, lenient_manifest=True)
    tables, damaged = [], []
    for entry, found in store.read_each(sorted(entries, key=_listed_order)):
        if isinstance(found, str):
            damaged.append(_unreadable(problem(entry, found)))
        else:
            tables.append(found)
    if damaged and (why := _root_problem(store)):
        raise RootUnreadable(socket.gethostname(), why)
    tables = [t for t in tables if t is not None]
    rows = sum(t.num_rows for t in tables)
    if not rows or items is None:
        return GroupResult(key, tuple(damaged), (), 0, rows)
    diffs, checked = rescore(key[0], records_frame(pa.concat_tables(tables)), items)
    return GroupResult(key, tuple(damaged), tuple(diffs), checked, rows)


def _root_problem(store: ResultStore) -> str | None:
    """Why the results root itself cannot be read here (None: it can; its files may still be missing)."""
    try:
        found = store.fs.get_file_info(store.base)
    except OSError as exc:
        return first_line(exc)
    return "no such directory" if found.type == pafs.FileType.NotFound else None


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


def verify_groups(
    store: ResultStore, data_dir: str | None, *, code: bool, jobs: int, ray: str | None = None
) -> list[GroupResult]:
    """Every (task, model) group verified, in (task, model) order: in `jobs` worker processes when > 1, or as Ray
    tasks when `ray` is given (the cluster's address; "": RAY_ADDRESS, else an embedded local Ray)."""
    groups = store.groups()
    if ray is not None:
        init_ray(ray or None, dashboard=False)  # before the progress clock starts
    progress = Progress(len(groups))
    root = store.root if "://" in store.root else store.base  # an absolute path: workers start elsewhere
    if ray is not None:
        results = _on_ray(root, groups, data_dir, code, progress=progress)
        return [results[key] for key in groups]
    calls = list(_calls(root, groups, data_dir, code))
    results: dict[tuple[str, str], GroupResult] = {}
    if jobs <= 1 or len(calls) <= 1:
        for key, args in calls:
            try:
                results[key] = verify_group(*args)
            except Exception as exc:  # a scorer that raises on a recorded row: that group is not verified
                results[key] = _failed(key, _reason(exc))
            progress.update(results[key])
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            pending = {pool.submit(verify_group, *args): key for key, args in calls}
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    key = pending.pop(future)
                    exc = future.exception()
                    results[key] = _failed(key, _reason(exc)) if exc else future.result()
                    progress.update(results[key])
    return [results[key] for key in groups]


def _failed(key: tuple[str, str], reason: str, attempts: int = 1) -> GroupResult:
    """A group that could not be verified: verifying it raised (or its Ray task failed `attempts` times)."""
    return GroupResult(key, (), (), 0, 0, failure=reason if attempts == 1 else f"{reason} (after {attempts} attempts)")


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {first_line(exc)}"


def _calls(
    root: str,
    groups: dict[tuple[str, str], list[dict]],
    data_dir: str | None,
    code: bool,
    share: Callable | None = None,
) -> Iterator[tuple[tuple[str, str], tuple]]:
    """(key, verify_group's arguments) per group; each task's items loaded here once, at its first group (a
    missing data directory is found here), and passed through `share` once (the Ray object store), or, without
    `share`, as a TaskItems reference each worker process loads once."""
    task = items = None
    for key, entries in groups.items():
        if key[0] != task:
            task, items = key[0], _items(key[0], data_dir, code=code)
            if items is not None:
                items = share(items) if share is not None else TaskItems(task, data_dir, code)
        yield key, (root, key, entries, items)


def _on_ray(root: str, groups: dict, data_dir: str | None, code: bool, *, progress: Progress):
    """{key: GroupResult} of every group verified as a Ray task (Ray initialized); a failed task's group reported
    as not verified."""
    from evalfleet.run import cpu_tasks  # imports ray: only on this path

    calls = _calls(root, groups, data_dir, code, share=cpu_tasks.share)
    results = {}
    for key, found in cpu_tasks.map_unordered(verify_group, calls, in_flight=2 * cpu_tasks.cluster_cpus()):
        if isinstance(found, cpu_tasks.Failed):
            if isinstance(found.error, RootUnreadable):
                node, why = found.error.args
                raise EvalfleetError(
                    f"not readable on the Ray node {node} ({why}). With --ray every node reads the shards itself: "
                    "put RESULTS on an object store (s3://...) every node can read, or on a filesystem every node "
                    "mounts at the same path",
                    source=root,
                )
            found = _failed(key, found.reason, attempts=1 + cpu_tasks.MAX_RETRIES)
        results[key] = found
        progress.update(found)
    return results


def main(args) -> int:
    store = ResultStore(args.results, lenient_manifest=True)
    cfg = store.load_run_config()
    data_dir = args.data_dir or cfg.get("data_dir")
    jobs = getattr(args, "jobs", None) or os.cpu_count() or 1
    try:
        results = verify_groups(store, data_dir, code=args.code, jobs=jobs, ray=getattr(args, "ray", None))
    except _NoDataDir:
        raise EvalfleetError(
            "no data_dir in run.yaml; pass --data-dir", source=store.path("run.yaml"), field="data_dir"
        ) from None
    files = manifest_problems(store) + [d for r in results for d in r.damaged] + unlisted_files(store)
    diffs = [d for r in results for d in r.diffs]
    failed = [f"{r.key[0]} {r.key[1]}: {r.failure}" for r in results if r.failure]
    checked = sum(r.checked for r in results)
    for title, lines in (("manifest/files", files), ("re-scoring", diffs), ("not verified", failed)):
        for line in lines[: args.max_report]:
            print(f"{title}: {line}")
        if len(lines) > args.max_report:
            print(f"{title}: ... and {len(lines) - args.max_report} more")
    print(
        f"verified {len(store.manifest())} shards, {checked} rows re-scored: "
        f"{len(files)} file problems, {len(diffs)} differences"
        + (f", {len(failed)} groups not verified" if failed else ""),
        file=sys.stdout,
    )
    return 1 if files or diffs or failed else 0
