"""evalfleet's five stages in one screen: spec -> plan -> run -> store -> scoring -> report.

    plan(config)                   the shards, and for each whether it is stored, to run or to re-score, and why
    run(config)                    plan the shards, re-score or evaluate them on Ray, record them in the store
    score(results, out)            recorded rows -> task scores -> the edition's views (+ confidence) -> report files
    leaderboard(edition, tables)   tables evaluated elsewhere -> the edition's views -> report files

Commands (`evalfleet.commands`) parse arguments, call one of these and print; nothing else here is
specific to a command line.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

from evalfleet.errors import EvalfleetError
from evalfleet.plan.dryrun import PlanReport, plan_shards, reason_summary, summary
from evalfleet.plan.environment import planned_batch_invariance
from evalfleet.plan.modelhash import DigestStream, thread_stream
from evalfleet.plan.prepare import ModelReady, Planning, hash_models, plan_tasks, prepare
from evalfleet.plan.throughput import measured_rate
from evalfleet.plan.tokens import counter
from evalfleet.report import write_report
from evalfleet.run.arrivals import Feed
from evalfleet.run.cluster import cluster_address, init_ray
from evalfleet.run.progress import RunProgress, dashboard_url
from evalfleet.run.rescore import rescore_stored
from evalfleet.score_jobs import store_items, store_task_scores
from evalfleet.scoring.confidence import compute_confidence
from evalfleet.scoring.confidence_draws import RecordedItems
from evalfleet.scoring.confidence_rules import parse_confidence
from evalfleet.scoring.result import Scoreboard
from evalfleet.scoring.rules import ScoringRules, parse_rules
from evalfleet.scoring.scoreboard import compute_scoreboard
from evalfleet.scoring.tables import read_table
from evalfleet.spec.config import RunConfig
from evalfleet.spec.edition import load_edition, track_in_names
from evalfleet.store import lease
from evalfleet.store.compaction import CompactReport, compact
from evalfleet.store.results import ResultStore
from evalfleet.types import Shard


def run(
    cfg: RunConfig,
    *,
    address: str | None = None,
    progress: bool = True,
    out=None,
    dashboard: bool = True,
    stream: DigestStream | None = None,
) -> int:
    """Run `cfg` end to end; print problems and a summary; return the exit status.

    Each model's shards start as soon as its checkpoint (and adapter) is hashed: a thread hashes the files the
    store's digest cache lacks (`stream`; default: threads here, Ray tasks spread over the nodes when joining a
    cluster) and hands each model to the driver's loop as it is ready (`ModelArrivals`).
    """
    out = out or sys.stdout
    store = ResultStore(cfg.results)
    lease.hold(store)  # one writer per results root: a second driver refuses, naming this one
    joined: list[DigestStream] = []

    def connect() -> DigestStream:  # join (or start) Ray once; the Ray checkpoint hashing
        if not joined:
            joined.append(join(address, dashboard, out))
        return joined[0]

    planning = plan_tasks(cfg, store)  # tasks loaded, models checked; no checkpoint read yet
    for line in planning.problems:
        print(f"evalfleet: {line}", file=sys.stderr)
    store.save_run_config(cfg)
    print(
        f"{len(planning.models)} models x {len(planning.specs)} tasks = {planning.planned} shards; "
        f"results in {cfg.results}",
        file=out,
    )
    if cfg.backend == "vllm":
        print(f"vLLM batch invariance: {planned_batch_invariance(cfg.backend, cfg.backend_options)}", file=out)
    arrivals = ModelArrivals(cfg, planning.items, store, connect, out)
    try:
        if planning.planned:
            hash_while_ray_starts(planning, store, arrivals.feed, address, connect, out, stream)
        summary = evaluate(cfg, planning, store, arrivals.feed if planning.planned else None, progress)
    finally:
        arrivals.feed.close()
    status = report_run(summary, planning.problems + arrivals.problems, out)
    if cfg.compact:
        status = max(status, 1 if compact_root(store, out).damaged else 0)
    return status


def hash_while_ray_starts(
    planning: Planning, store: ResultStore, feed: Feed, address: str | None, connect, out, stream
) -> None:
    """Start the thread that hashes the checkpoints into `feed`; start or join Ray meanwhile where it is needed.

    Ray is needed up front when the store cannot hold every planned shard yet. Joining a cluster: joined first
    (also to hash files the cache lacks: as Ray tasks spread over its nodes; the tasks' modules are loaded by
    then). Embedded: the files are hashed in threads while the main thread starts Ray (`ray.init` stays in the
    main thread). A store that may hold every shard (a resumed run): no Ray for planning; a model whose shards
    turn out to need running starts it when it arrives."""
    stored = len(store.manifest())
    needed = planning.planned > stored
    if cluster_address(address):
        joined = connect() if needed or planning.uncached() else None
        feed.start(hash_models(planning, store, stream or joined or thread_stream()))
        return
    feed.start(hash_models(planning, store, stream or thread_stream()))
    if needed:
        print(f"starting Ray while planning ({planning.planned} shards planned, {stored} stored)", file=out)
        connect()


class ModelArrivals:
    """The models `hash_models` finishes, made the driver's arrivals in the driver's own thread (`feed`): a model
    that could not be hashed is reported and skipped; for the others, why their shards run is printed, stored
    outputs whose scorer alone changed are re-scored (no model), and Ray is started (or joined) before the
    first shard to run is handed over."""

    def __init__(self, cfg: RunConfig, items: dict, store: ResultStore, connect, out):
        self.cfg, self.items, self.store, self.connect, self.out = cfg, items, store, connect, out
        self.problems: list[str] = []
        """'model <id> skipped: ...' for each model whose checkpoint could not be hashed."""
        self.feed = Feed(self.ready)

    def ready(self, model: ModelReady) -> list[Shard]:
        """The shards `model` hands to the driver (none when it is skipped)."""
        if model.problem:
            print(f"evalfleet: {model.problem}", file=sys.stderr)
            self.problems.append(model.problem)
            self.store.log({"event": "model_skipped", "model": model.model.id, "problem": model.problem})
            return []
        rescore_changed(self.cfg, model, self.items, self.store, self.out)
        if any(not self.store.has(s.fingerprint) for s in model.shards):
            self.connect()
        return model.shards


def compact_root(store: ResultStore, out) -> CompactReport:
    """Fold each (task, model)'s shard files into one compacted file (store/compaction.py); print what it did."""
    report = compact(store)
    print(
        f"compacted {report.shards} shards of {report.groups} (task, model) groups: {report.files_before} files "
        f"-> {report.files_after}; {report.deleted} files deleted; {len(store.manifest())} shards listed",
        file=out,
    )
    for damaged in report.damaged:
        print(f"  left as it is (the next run recomputes it): {damaged.describe()}", file=out)
    return report


def join(address: str | None, dashboard: bool, out) -> DigestStream:
    """Join `address` / RAY_ADDRESS or start the embedded Ray; print its dashboard; the Ray checkpoint hashing."""
    # The driver's modules load before it joins: under `ray job submit` the job's working directory
    # (this code) may be removed and unpacked again by a node's runtime-env agent while the driver joins.
    import evalfleet.run.driver  # noqa: F401
    from evalfleet.run import hashing

    url = init_ray(address, dashboard=dashboard) or dashboard_url()
    if url:
        print(f"Ray dashboard: {url}", file=out)
    return lambda files: hashing.ray_stream(files)  # looked up when used (tests wrap it)


def rescore_changed(cfg: RunConfig, model: ModelReady, items: dict, store: ResultStore, out) -> None:
    """Print why `model`'s shards run; re-score the stored outputs of those whose scorer alone changed (no model)."""
    plans = plan_shards(model.shards, items, store.manifest(), payloads=store.payloads)
    print(f"{model.model.id}: {reason_summary(plans)}", file=out)
    rescore = [s for s, p in zip(model.shards, plans) if p.status == "rescore"]
    if rescore:
        rows = rescore_stored(store, rescore, items, cfg.sandbox)
        print(f"{model.model.id}: re-scored {rows} stored rows of {len(rescore)} shards (no model needed)", file=out)


def evaluate(cfg: RunConfig, planning: Planning, store: ResultStore, arrivals: Feed | None, progress: bool):
    """The shards arriving from `arrivals` that are not stored, evaluated on Ray and recorded; the RunSummary."""
    from evalfleet.run.driver import run_shards  # imports ray: score and leaderboard do not need it

    return run_shards(
        [],
        planning.items,
        store,
        backend=cfg.backend,
        backend_options=cfg.backend_options,
        batch_size=cfg.batch_size,
        workers=cfg.workers,
        in_flight=cfg.in_flight,
        max_retries=cfg.max_retries,
        progress=RunProgress() if progress else None,
        sandbox=cfg.sandbox,
        arrivals=arrivals,
        planned=planning.planned,
    )


def report_run(summary, problems: list[str], out) -> int:
    """Print the run's summary, failures and skipped inputs; the exit status (1 when anything failed or skipped)."""
    print(
        f"shards: {summary.run} run, {summary.skipped} already stored, {len(summary.failed)} failed "
        f"({summary.retries} retries, {summary.workers_lost} workers lost) in {summary.seconds:.1f}s",
        file=out,
    )
    for line in summary.failed:
        print(f"  failed: {line}", file=out)
    if problems:
        print(f"skipped ({len(problems)}):", file=out)
        for line in problems:
            print(f"  {line}", file=out)
    return 1 if summary.failed or problems else 0


def plan(cfg: RunConfig, *, tokens_per_second: float | None = None, count_tokens: bool = True) -> PlanReport:
    """What `run(cfg)` would compute, re-score or reuse, and why; tokens counted; no Ray, no model load."""
    store = ResultStore(cfg.results)
    prep = prepare(cfg, store)
    entries = store.manifest()
    plans = plan_shards(prep.shards, prep.items, entries, counter() if count_tokens else None, store.payloads)
    rate = tokens_per_second or measured_rate(store, entries)
    return PlanReport(plans, summary(plans, rate), list(prep.problems))


def score(
    results: str, out: str, *, confidence: bool = True, allow_missing: bool = False, jobs: int | None = None
) -> Path:
    """Score a results root with its run's edition and track; write the report to `out`; return the HTML path.

    confidence=False (`--no-confidence`) skips the paired bootstrap (intervals, place intervals, paired tests).
    A missing or damaged shard refuses (EvalfleetError naming each); `allow_missing` scores without them and
    says so in the report's notes. `jobs`: worker processes for a large store (default one per core).
    """
    store = ResultStore(results)
    cfg = store.load_run_config()  # a mapping (run.yaml)
    edition, track = cfg["edition"], cfg.get("track") or ""
    scores = store_task_scores(store, allow_missing=allow_missing, jobs=jobs)  # one (task, model) at a time
    rules = parse_rules(load_edition(edition))
    board = compute_scoreboard(scores, rules, track=track, source=str(results), notes=store.scoring_notes())
    wanted = confidence and parse_confidence(rules.edition).enabled
    items = recorded_items(store, board.scores, allow_missing, jobs) if wanted else None
    return write_report(with_confidence(board, rules, items, confidence), Path(out))


def recorded_items(
    store: ResultStore, scores: pd.DataFrame, allow_missing: bool, jobs: int | None = None
) -> RecordedItems:
    """The bootstrap's per-item cells, reduced one (task, model) group at a time (no output text, never a
    frame of the store; in `jobs` worker processes for a large store); a task's whole rows are read only for a
    module without a weighted-sum form."""
    return store_items(store, scores, allow_missing=allow_missing, jobs=jobs)


def with_confidence(
    board: Scoreboard, rules: ScoringRules, records: pd.DataFrame | RecordedItems | None, wanted: bool
) -> Scoreboard:
    """`board` with the edition's confidence settings applied (unchanged when not wanted or disabled)."""
    settings = parse_confidence(rules.edition)
    if not (wanted and settings.enabled):
        return board
    return replace(board, confidence=compute_confidence(board, rules, records, settings))


def leaderboard(edition: str, tables: list[str], out: str, *, track: str = "", confidence: bool = True) -> Path:
    """Score per-task tables evaluated elsewhere (HELM JSON, kit CSVs, plain CSV/Parquet); return the HTML path.

    Tables hold no items: the confidence files say 'no interval available' for every value.
    """
    if not tables:
        raise EvalfleetError("give at least one --table", field="--table")
    frames = [read_table(t) for t in tables]
    scores = pd.concat(frames, ignore_index=True)
    notes = tuple(
        f"{Path(r.source).name} row {r.row} ({r.team}): {r.note}"
        for r in scores.drop_duplicates(["source", "row", "note"]).itertuples()
        if r.note and r.note != "null in table"
    )
    nulls = scores[scores["note"] == "null in table"]
    if len(nulls):
        notes += (
            f"{len(nulls)} metric values are null in the table (official rule: 0.0, or 1000.0 where lower is better)",
        )
    rules = parse_rules(load_edition(edition))
    if not track:
        track = track_in_names(tables, rules.tracks)
    board = compute_scoreboard(scores, rules, track=track, source=", ".join(str(t) for t in tables), notes=notes)
    return write_report(with_confidence(board, rules, None, confidence), Path(out))
