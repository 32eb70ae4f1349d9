"""A run config resolved into shards: tasks and items loaded, models checked and hashed, problems collected.

Pure planning apart from reading the checkpoints' bytes (hashes cached in the results root) and the
data files: no Ray, no model load. In two steps, so a run can start a model's shards while later checkpoints
are still hashed:

    planning = plan_tasks(cfg, store)             tasks and items loaded, models checked (no checkpoint read)
    for ready in hash_models(planning, store, stream):   one ModelReady per model, as its checkpoint is hashed
        ready.shards / ready.problem

`prepare` does both and returns every shard at once (`evalfleet plan`, tests). The checkpoint files the cache
lacks are hashed by a `modelhash.DigestStream` (default: threads in this process; `evalfleet run` joining a
cluster passes Ray tasks spread over its nodes). A submission with a problem (config field, missing or broken
checkpoint) or a task that cannot load is recorded as a problem and left out; everything valid is planned.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterator

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

HASH_CACHE = ".cache/model-hashes.json"
"""The digest cache in a results root: file key (path|size|mtime_ns) -> sha256."""
SAVE_EVERY_S = 10.0
"""While checkpoints are hashed, the digest cache is saved when a model is ready and this long has passed since
the last save (and once at the end): a crash keeps the digests computed until then."""


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


@dataclass(frozen=True)
class Planning:
    """A run config's tasks loaded and submissions checked: everything but the checkpoints' fingerprints."""

    specs: list[TaskSpec]
    """The tasks that loaded (capped to the run's max_new_tokens)."""
    items: dict[str, dict[str, Item]]
    """task id -> item id -> item."""
    models: list[ModelRef]
    """The submissions that passed the checks, in config order (not hashed yet)."""
    problems: list[str]
    """One line per skipped task or model so far (config fields, tasks, model checks)."""
    settings: RunSettings
    """The run settings that enter every shard's fingerprint."""
    data_fps: dict[str, str]
    """task id -> digest of its data files."""
    cache: dict[str, Any] = field(repr=False)
    """The store's digest cache (`HASH_CACHE`), loaded once; `hash_models` fills it (its thread alone)."""

    @property
    def planned(self) -> int:
        """Shards the checked models make (before hashing: a model found broken then is left out)."""
        per_model = sum(
            len(shard_slices(list(self.items[s.id]), self.settings.shard_size, self.settings.limit)) for s in self.specs
        )
        return len(self.models) * per_model if self.specs else 0

    def paths(self, ref: ModelRef) -> list[str]:
        """The checkpoint directories of `ref` (its weights, and its adapter when it has one)."""
        return [str(p) for p in (ref.path, ref.adapter) if p]

    def uncached(self) -> int:
        """Checkpoint files of the checked models that the digest cache lacks (unreadable ones not counted)."""
        missing = set()
        for path in (p for ref in self.models for p in self.paths(ref)):
            try:
                files = modelhash.checked_files(path)[1]
            except (EvalfleetError, OSError):
                continue
            for file in files:
                try:
                    key = modelhash.cache_key(file)
                except OSError:
                    continue
                if key not in self.cache:
                    missing.add(key)
        return len(missing)


@dataclass(frozen=True)
class ModelReady:
    """One checked model whose checkpoint (and adapter) hashing has finished."""

    model: ModelRef
    """The submission."""
    shards: list[Shard]
    """Its shards, in (task, index) order; empty when it is skipped."""
    problem: str = ""
    """'model <id> skipped: <why>' when its checkpoint could not be hashed (unreadable file), else ''."""


def check_model(ref: ModelRef, allowed_dtypes) -> list[str]:
    """Problems that keep `ref` from being evaluated (evalfleet.checks.validate's checks)."""
    verdict = validate_model(ref, allowed_dtypes=allowed_dtypes)
    return list(verdict.problems)


def plan_tasks(cfg: RunConfig, store) -> Planning:
    """Tasks, items and checked models of `cfg`, per-task and per-model problems collected; no checkpoint hashed."""
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
    cache = store.load_json(HASH_CACHE, {})
    models = []
    for ref in cfg.submissions:
        found = check_model(ref, edition.allowed_dtypes)
        if found:
            problems.append(f"model {ref.id} skipped: " + "; ".join(found))
        else:
            models.append(ref)
    settings = RunSettings(
        backend=cfg.backend,
        batch_size=cfg.batch_size,
        shard_size=cfg.shard_size,
        limit=cfg.limit,
        max_new_tokens=cfg.max_new_tokens,
        backend_options=dict(cfg.backend_options or {}),
        environment=environment_key(cfg.backend),
    )
    data_fps = {s.id: data_digest(s, cfg.data_dir, cache) for s in specs}
    return Planning(specs, items, models, problems, settings, data_fps, cache)


def hash_models(
    planning: Planning, store, stream: modelhash.DigestStream, *, save_every: float = SAVE_EVERY_S
) -> Iterator[ModelReady]:
    """One ModelReady per checked model, in the order their checkpoints finish hashing (those the cache holds
    first); the files the cache lacks hashed by `stream`. The cache is saved to the store as models finish (at
    most every `save_every` seconds) and when the iterator ends or is closed."""
    groups = [planning.paths(ref) for ref in planning.models]
    saved = time.monotonic()
    try:
        for n, found in modelhash.fingerprints_as_ready(groups, planning.cache, stream):
            if time.monotonic() - saved >= save_every:  # before the model is handed over: its digests are kept
                store.save_json(HASH_CACHE, planning.cache)
                saved = time.monotonic()
            yield model_ready(planning, planning.models[n], found)
    finally:
        store.save_json(HASH_CACHE, planning.cache)


def model_ready(planning: Planning, ref: ModelRef, found: dict[str, str | Exception]) -> ModelReady:
    """`ref`'s shards from its paths' fingerprints, or the first error hashing them raised."""
    pair = (found[str(ref.path)], found[str(ref.adapter)] if ref.adapter else "")
    errors = [str(x) for x in pair if isinstance(x, Exception)]
    if errors:
        return ModelReady(ref, [], f"model {ref.id} skipped: {errors[0]}")
    fps = {ref.id: pair}
    shards = make_shards(
        planning.specs, planning.items, [ref], model_fps=fps, data_fps=planning.data_fps, settings=planning.settings
    )
    return ModelReady(ref, shards)


def prepare(cfg: RunConfig, store, *, hasher: Hasher | None = None) -> Prepared:
    """Tasks, items, valid models and shards of `cfg`, every checkpoint hashed (the files not in the store's
    digest cache by `hasher`, default `modelhash.thread_hasher()`); problems collected."""
    planning = plan_tasks(cfg, store)
    stream = modelhash.hasher_stream(hasher or modelhash.thread_hasher())
    ready = {r.model.id: r for r in hash_models(planning, store, stream)}
    models = [ref for ref in planning.models if not ready[ref.id].problem]
    problems = planning.problems + [ready[ref.id].problem for ref in planning.models if ready[ref.id].problem]
    shards = [s for ref in models for s in ready[ref.id].shards]
    return Prepared(shards=shards, items=planning.items, specs=planning.specs, models=models, problems=problems)
