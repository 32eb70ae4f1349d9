"""`evalfleet verify RESULTS`: re-score every recorded output with the current modules, check manifest and files.

Reports every row whose extracted answer or score differs from what is recorded (a changed
extractor, a tampered file); every malformed manifest line; every listed shard whose file is
missing, truncated, unreadable, fails a page checksum, has another row count or another shard's
rows (named by task, model and shard; the other shards are still checked and re-scored); and
every shard file the manifest does not list. Exit status 1 on any problem or difference.
Tasks that execute code to score (SCORE_ON_CPU_TASK) are re-scored only with --code; 'measure' rows are not re-scored.
"""

from __future__ import annotations

import math
import posixpath
import sys

import pyarrow.fs as pafs

from evalfleet import benchmarks
from evalfleet.errors import EvalfleetError
from evalfleet.plan.shards import task_items
from evalfleet.run.evaluate import recorded_logliks, score_item
from evalfleet.spec.taskspec import load_task
from evalfleet.store.manifest import MANIFEST
from evalfleet.store.results import ResultStore

HELP = "Re-score the recorded outputs with the current code and check the manifest against the files."


def add_arguments(parser) -> None:
    parser.add_argument("results", help="results root written by 'evalfleet run'")
    parser.add_argument("--data-dir", help="official data directory (default: the one in RESULTS/run.yaml)")
    parser.add_argument(
        "--code", action="store_true", help="also re-run code-executing scorers (HumanEval) in the sandbox"
    )
    parser.add_argument("--max-report", type=int, default=20, help="differences printed per kind (default 20)")


def check_files(store: ResultStore) -> list[str]:
    """Manifest ↔ files problems: malformed manifest lines, and every listed shard read in full (page
    checksums verified) — each missing, truncated, unreadable or checksum-failing file named with its
    task, model and shard — then every shard file the manifest does not list."""
    state = store.manifest_read()
    source = store.path(MANIFEST)
    problems = [f"{source}: line {n}: malformed manifest line (`evalfleet repair RESULTS`)" for n in state.bad_lines]
    if state.torn_line:
        problems.append(f"{source}: line {state.torn_line}: torn last line (an interrupted write)")
    listed = set()
    for entry in sorted(store.manifest(), key=lambda e: (e["task"], e["model"], e.get("index", 0), e["path"])):
        listed.update(p for p in (entry["path"], entry.get("rescored_from")) if p)  # a re-scored shard's source stays
        damage = store.shard_damage(entry)
        if damage:
            problems.append(f"{damage.describe()} (listed in the manifest but unreadable)")
    selector = pafs.FileSelector(store.path("shards"), recursive=True, allow_not_found=True)
    for info in store.fs.get_file_info(selector):
        if info.type == pafs.FileType.File and info.path.endswith(".parquet"):
            rel = posixpath.relpath(info.path, store.base)
            if rel not in listed:
                problems.append(
                    f"{rel}: shard file not in the manifest (an interrupted write; the next run rewrites it, "
                    "`evalfleet repair RESULTS` lists it)"
                )
    return problems


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
        items = {i.id: i for i in task_items(spec, data_dir)}
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
                choose = getattr(module, "choose", None)
                extracted = (
                    str(choose(lls, item, spec))
                    if choose
                    else str(max(range(len(lls)), key=lambda j: (lls[j].logprob, -j)))
                )
            metrics = score_item(spec, item, extracted, lls)
            metrics.pop("isolation", None)
            score = metrics.get(spec.metric)
            checked += 1
            if extracted != row.extracted:
                diffs.append(f"{where}: extracted {row.extracted!r} recorded, {extracted!r} now")
            elif not _same(score, row.score):
                diffs.append(f"{where}: score {row.score!r} recorded, {score!r} now")
    return diffs, checked


def _same(a, b) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        return (a is None or math.isnan(a)) and (b is None or math.isnan(b))
    return abs(float(a) - float(b)) <= 1e-9


def main(args) -> int:
    store = ResultStore(args.results, lenient_manifest=True)
    cfg = store.load_run_config()
    data_dir = args.data_dir or cfg.get("data_dir")
    files = check_files(store)
    try:
        diffs, checked = rescore(store.read_records(skip_missing=True, skip_damaged=True), data_dir, code=args.code)
    except _NoDataDir:
        raise EvalfleetError(
            "no data_dir in run.yaml; pass --data-dir", source=store.path("run.yaml"), field="data_dir"
        ) from None
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
