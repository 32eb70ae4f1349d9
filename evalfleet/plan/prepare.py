"""A run config resolved into shards: tasks and items loaded, models checked and hashed, problems collected.

Pure planning apart from reading the checkpoints' bytes (hashes cached in the results root) and the
data files: no Ray, no model load. The checkpoint files the cache lacks are hashed by the `hasher` given
(`evalfleet.contracts.Hasher`; default: threads in this process; `evalfleet run` joining a cluster passes
Ray tasks spread over its nodes). A submission with a problem (config field, missing or broken
checkpoint) or a task that cannot load is recorded in `problems` and left out; everything valid is planned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from evalfleet.checks.validate import validate_model
from evalfleet.contracts import Hasher
from evalfleet.errors import EvalfleetError
from evalfleet.plan import modelhash
from evalfleet.plan.environment import environment_key
from evalfleet.plan.shards import RunSettings, capped, data_digest, make_shards, shard_slices, task_items
from evalfleet.spec.config import RunConfig
from evalfleet.spec.edition import load_edition
from evalfleet.spec.taskspec import load_task, with_options
from evalfleet.types import Item, ModelRef, Shard, TaskSpec


@dataclass(frozen=True)
class Prepared:
    """A run config resolved into shards, with everything skipped and why."""

    shards: list[Shard]
    """Every shard of every valid (model, task), in (model, task, index) order."""
    items: dict[str, dict[str, Item]]
    """task id -> item id -> item."""
    specs: list[TaskSpec]
    """The tasks that loaded (capped to the run's max_new_tokens)."""
    models: list[ModelRef]
    """The models that passed the checks."""
    problems: list[str] = field(default_factory=list)
    """One line per skipped task or model, with the reason."""


def check_model(ref: ModelRef, allowed_dtypes) -> list[str]:
    """Problems that keep `ref` from being evaluated (evalfleet.checks.validate's checks)."""
    verdict = validate_model(ref, allowed_dtypes=allowed_dtypes)
    return list(verdict.problems)


def prepare(
    cfg: RunConfig, store, *, hasher: Hasher | None = None, checked: Callable[[int], None] | None = None
) -> Prepared:
    """Tasks, items, valid models and shards of `cfg`; per-task and per-model problems collected; the
    checkpoint files not in the store's digest cache hashed by `hasher` (default `modelhash.thread_hasher()`).

    `checked(n)`: called once the tasks are loaded and the models checked, before hashing, with the number of
    shards the valid ones make (a run can start Ray meanwhile); not called when nothing valid is left."""
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
    checks = [check_model(ref, edition.allowed_dtypes) for ref in cfg.submissions]
    valid = [ref for ref, found in zip(cfg.submissions, checks) if not found]
    if checked is not None and valid and specs:
        checked(len(valid) * sum(len(shard_slices(list(items[s.id]), cfg.shard_size, cfg.limit)) for s in specs))
    paths = [p for ref in valid for p in (ref.path, ref.adapter) if p]
    hashed = modelhash.fingerprints(paths, cache, hasher=hasher)
    for ref, found in zip(cfg.submissions, checks):
        if not found:
            pair = (hashed[str(ref.path)], hashed[str(ref.adapter)] if ref.adapter else "")
            errors = [str(x) for x in pair if isinstance(x, Exception)]
            found = errors[:1]
            if not errors:
                fps[ref.id] = pair
        if found:
            problems.append(f"model {ref.id} skipped: " + "; ".join(found))
            continue
        models.append(ref)
    data_fps = {s.id: data_digest(s, cfg.data_dir, cache) for s in specs}
    store.save_json(".cache/model-hashes.json", cache)
    settings = RunSettings(
        backend=cfg.backend,
        batch_size=cfg.batch_size,
        shard_size=cfg.shard_size,
        limit=cfg.limit,
        max_new_tokens=cfg.max_new_tokens,
        backend_options=dict(cfg.backend_options or {}),
        environment=environment_key(cfg.backend),
    )
    shards = make_shards(specs, items, models, model_fps=fps, data_fps=data_fps, settings=settings)
    return Prepared(shards=shards, items=items, specs=specs, models=models, problems=problems)
