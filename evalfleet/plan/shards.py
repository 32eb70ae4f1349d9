"""Plan (pure, no Ray): submissions × tasks → shards with fingerprints and cost estimates.

A shard is a fixed, contiguous slice of a task's sorted item ids (`shard_size` per slice), so the
set of shards never depends on how many workers there are. Its fingerprint covers exactly what
changes its results (see `shard_fingerprint`); the store skips fingerprints it already holds.

    task_items(spec, data_dir)            -> list[Item]   (load once on the driver)
    capped(spec, max_new_tokens)           -> TaskSpec     (the run's cap applied)
    make_shards(specs, items, models, ...) -> list[Shard]  (pure)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from evalfleet import benchmarks
from evalfleet.benchmarks.prompting import render_base
from evalfleet.errors import EvalfleetError
from evalfleet.plan.fingerprint import fingerprints, generation_payload, scoring_payload
from evalfleet.plan.modelhash import file_digest
from evalfleet.types import Fingerprints, Item, ModelRef, Shard, TaskSpec

BATCHED_BACKENDS = ("hf",)
"""Backends whose outputs can depend on the batch size (vLLM batches continuously: its batch_size means nothing)."""
MEASURE_COST = 10_000.0
"""Cost estimate of one 'measure' item (a probe runs thousands of tokens through the model)."""


@dataclass(frozen=True)
class RunSettings:
    """The run-config fields that change results, hence enter every fingerprint."""

    backend: str = "hf"
    """Backend name ('hf' or 'vllm')."""
    batch_size: int = 8
    """Prompts per backend call (batch composition can change floating-point results)."""
    shard_size: int = 64
    """Items per shard."""
    limit: int | None = None
    """Only the first N sorted item ids of each task; None = all."""
    max_new_tokens: int | None = None
    """Cap on each task's max_new_tokens; None keeps the spec's."""
    backend_options: Mapping[str, Any] = field(default_factory=dict)
    """The backend's keyword options (every one enters the generation fingerprint)."""
    environment: Mapping[str, Any] = field(default_factory=dict)
    """Library versions and device class (`plan.environment.environment_key`) of the workers."""


def task_items(spec: TaskSpec, data_dir: str | Path) -> list[Item]:
    """The task's items from the official files, via its benchmark module; ids must be unique."""
    items = benchmarks.get_module(spec).load_items(spec, Path(data_dir))
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise EvalfleetError(f"benchmark module '{spec.module}' returned duplicate item ids", field="module")
    return items


def capped(spec: TaskSpec, max_new_tokens: int | None) -> TaskSpec:
    """`spec` with generation.max_new_tokens lowered to the cap (unchanged when None or already lower)."""
    if max_new_tokens is None or spec.generation.max_new_tokens <= max_new_tokens:
        return spec
    return replace(spec, generation=replace(spec.generation, max_new_tokens=max_new_tokens))


def data_digest(spec: TaskSpec, data_dir: str | Path, cache: dict | None = None) -> str:
    """sha256 over the task's data files (name and content)."""
    digest = hashlib.sha256()
    for name in spec.data_files:
        path = Path(data_dir) / name
        digest.update(f"{name}\0{file_digest(path, cache) if path.is_file() else 'missing'}\n".encode())
    return digest.hexdigest()


def shard_slices(item_ids: Sequence[str], shard_size: int, limit: int | None = None) -> list[tuple[str, ...]]:
    """Sorted ids (first `limit` of them) cut into contiguous slices of `shard_size`."""
    ids = sorted(item_ids)[:limit] if limit else sorted(item_ids)
    return [tuple(ids[i : i + shard_size]) for i in range(0, len(ids), shard_size)]


def item_cost(item: Item, spec: TaskSpec) -> float:
    """Prompt characters / 4 plus new tokens (per sample); loglikelihood: per choice; measure: a constant."""
    if spec.kind == "measure":
        return MEASURE_COST
    prompt = len(render_base(item.messages)) / 4.0
    if spec.kind == "loglikelihood":
        return sum(prompt + len(c) / 4.0 for c in item.choices) or prompt
    return (prompt + spec.generation.max_new_tokens) * spec.generation.num_samples


def shard_fingerprints(
    *,
    model_fp: str,
    adapter_fp: str,
    model: ModelRef,
    spec: TaskSpec,
    data_fp: str,
    items: Sequence[Item],
    settings: RunSettings,
) -> Fingerprints:
    """The shard's generation and scoring fingerprints (see `plan.fingerprint`)."""
    generation = generation_payload(
        model=model,
        weights=model_fp,
        adapter=adapter_fp,
        spec=spec,
        data=data_fp,
        item_ids=[i.id for i in items],
        backend=settings.backend,
        backend_options=settings.backend_options,
        batch_size=settings.batch_size if settings.backend in BATCHED_BACKENDS else None,
        environment=settings.environment,
    )
    return fingerprints(generation, scoring_payload(spec, items))


def make_shards(
    specs: Sequence[TaskSpec],
    items: Mapping[str, Sequence[Item]],
    models: Sequence[ModelRef],
    *,
    model_fps: Mapping[str, tuple[str, str]],
    data_fps: Mapping[str, str],
    settings: RunSettings,
) -> list[Shard]:
    """Every (model, task) shard, in (model, task, index) order.

    `specs` are already capped; `items[spec.id]` the task's items (a list, or a mapping id → Item);
    `model_fps[model.id]` is (weights fingerprint, adapter fingerprint or ''); `data_fps[spec.id]` the data digest.
    """
    shards = []
    for model in models:
        weights_fp, adapter_fp = model_fps[model.id]
        for spec in specs:
            task = items[spec.id]
            by_id = dict(task) if isinstance(task, Mapping) else {i.id: i for i in task}
            for index, ids in enumerate(shard_slices(list(by_id), settings.shard_size, settings.limit)):
                fps = shard_fingerprints(
                    model_fp=weights_fp,
                    adapter_fp=adapter_fp,
                    model=model,
                    spec=spec,
                    data_fp=data_fps[spec.id],
                    items=[by_id[i] for i in ids],
                    settings=settings,
                )
                cost = sum(item_cost(by_id[i], spec) for i in ids)
                shards.append(Shard(spec, model, index, ids, fps.generation, cost, fps))
    return shards
