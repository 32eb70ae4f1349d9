"""`evalfleet run CONFIG.yaml`: plan the shards, evaluate them on Ray, record them in the results root.

No --address and no RAY_ADDRESS: an embedded local Ray. Otherwise it joins that cluster; under
`ray job submit --working-dir . -- evalfleet run CONFIG.yaml` it joins the job's cluster.
A submission with a problem (config field, missing or broken checkpoint) is reported and
skipped; every valid one is evaluated. The exit status is 1 when anything was skipped or failed.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from evalfleet.config import RunConfig, load_config
from evalfleet.edition import load_edition
from evalfleet.errors import EvalfleetError
from evalfleet.types import Item, ModelRef, Shard, TaskSpec

HELP = "Evaluate a run config's submissions on Ray and record every answer (resumable)."


def add_arguments(parser) -> None:
    parser.add_argument("config", help="run config YAML (see docs/config.md)")
    parser.add_argument("--results", help="results root (overrides the config's 'results')")
    parser.add_argument("--address", help="Ray cluster to join (default: RAY_ADDRESS, else an embedded local Ray)")
    parser.add_argument("--workers", type=int, help="ModelWorker actors (overrides the config's 'workers')")


@dataclass
class Prepared:
    """A run config resolved into shards, with everything skipped and why."""

    shards: list[Shard]
    items: dict[str, dict[str, Item]]
    specs: list[TaskSpec]
    models: list[ModelRef]
    problems: list[str] = field(default_factory=list)


def main(args) -> int:
    cfg = load_config(args.config, results=args.results)
    if args.workers:
        from dataclasses import replace

        cfg = replace(cfg, workers=args.workers)
    return execute(cfg, address=args.address)


def check_model(ref: ModelRef, allowed_dtypes) -> list[str]:
    """Problems that keep `ref` from being evaluated (evalfleet.validate's checks)."""
    from evalfleet.validate import validate_model

    verdict = validate_model(ref, allowed_dtypes=allowed_dtypes)
    return list(verdict.problems)


def prepare(cfg: RunConfig, store) -> Prepared:
    """Tasks, items, valid models and shards of `cfg`; per-task and per-model problems collected."""
    from evalfleet import modelhash
    from evalfleet.plan import RunSettings, capped, data_digest, make_shards, task_items
    from evalfleet.taskspec import load_task, with_options

    edition = load_edition(cfg.edition)
    problems = list(cfg.problems)
    specs, items = [], {}
    for task_id in cfg.tasks or (edition.tasks + edition.holdout):
        try:
            spec = capped(load_task(task_id), cfg.max_new_tokens)
            if spec.kind == "measure":
                spec = with_options(spec, cfg.probe)
            items[spec.id] = {i.id: i for i in task_items(spec, cfg.data_dir)}
            specs.append(spec)
        except EvalfleetError as exc:
            problems.append(f"task {task_id} skipped: {exc}")
    cache = store.load_json(".cache/model-hashes.json", {})
    models, fps = [], {}
    for ref in cfg.submissions:
        found = check_model(ref, edition.allowed_dtypes)
        if not found:
            try:
                fps[ref.id] = (modelhash.fingerprint(ref.path, cache), modelhash.fingerprint(ref.adapter, cache) if ref.adapter else "")
            except (EvalfleetError, OSError) as exc:
                found = [str(exc)]
        if found:
            problems.append(f"model {ref.id} skipped: " + "; ".join(found))
            continue
        models.append(ref)
    data_fps = {s.id: data_digest(s, cfg.data_dir, cache) for s in specs}
    store.save_json(".cache/model-hashes.json", cache)
    settings = RunSettings(backend=cfg.backend, batch_size=cfg.batch_size, shard_size=cfg.shard_size, limit=cfg.limit,
                           max_new_tokens=cfg.max_new_tokens)
    shards = make_shards(specs, items, models, model_fps=fps, data_fps=data_fps, settings=settings)
    return Prepared(shards=shards, items=items, specs=specs, models=models, problems=problems)


def init_ray(address: str | None, *, dashboard: bool = True) -> str | None:
    """Join `address` (or RAY_ADDRESS), else start an embedded local Ray (no-op when connected); the dashboard URL."""
    import ray

    if ray.is_initialized():
        return None
    address = address or os.environ.get("RAY_ADDRESS") or None
    os.environ.setdefault("RAY_raylet_start_wait_time_s", "180")  # a busy laptop starts the embedded Ray slowly
    if address:
        context = ray.init(address=address, log_to_driver=False)
    else:
        context = ray.init(log_to_driver=False, include_dashboard=dashboard)
    url = getattr(context, "dashboard_url", None)
    return (url if url.startswith("http") else f"http://{url}") if url else None


def execute(cfg: RunConfig, *, address: str | None = None, progress: bool = True, out=None, dashboard: bool = True) -> int:
    """Run `cfg` end to end; print problems and a summary; return the exit status."""
    from evalfleet.driver import run_shards
    from evalfleet.progress import RunProgress, dashboard_url
    from evalfleet.store import ResultStore

    out = out or sys.stdout
    store = ResultStore(cfg.results)
    prep = prepare(cfg, store)
    for line in prep.problems:
        print(f"evalfleet: {line}", file=sys.stderr)
    store.save_run_config(cfg)
    if any(not store.has(s.fingerprint) for s in prep.shards):
        url = init_ray(address, dashboard=dashboard) or dashboard_url()
        if url:
            print(f"Ray dashboard: {url}", file=out)
    print(f"{len(prep.models)} models x {len(prep.specs)} tasks = {len(prep.shards)} shards; results in {cfg.results}", file=out)
    summary = run_shards(prep.shards, prep.items, store, backend=cfg.backend, backend_options=cfg.backend_options,
                         batch_size=cfg.batch_size, workers=cfg.workers, in_flight=cfg.in_flight,
                         max_retries=cfg.max_retries, progress=RunProgress() if progress else None,
                         sandbox=cfg.sandbox)
    print(f"shards: {summary.run} run, {summary.skipped} already stored, {len(summary.failed)} failed "
          f"({summary.retries} retries, {summary.workers_lost} workers lost) in {summary.seconds:.1f}s", file=out)
    for line in summary.failed:
        print(f"  failed: {line}", file=out)
    if prep.problems:
        print(f"skipped ({len(prep.problems)}):", file=out)
        for line in prep.problems:
            print(f"  {line}", file=out)
    return 1 if summary.failed or prep.problems else 0
