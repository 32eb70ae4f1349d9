"""Evaluate one shard with a loaded backend → the shard's Arrow table (one row per item and sample).

Pure with respect to Ray: the worker actor and in-process benchmarks both call `evaluate_shard`.
Prompts are rendered per the model's prompt style, sent in batches of `batch_size` (generate items
grouped by their effective settings: an item's `meta['max_new_tokens']` caps the spec's); a batch that
raises is retried item by item, and an item that fails alone becomes a row with `error` set, so one
bad item never aborts a shard. Generate tasks are extracted and scored here unless the benchmark
module sets SCORE_ON_CPU_TASK (code execution): then the driver fills the score with `score_rows`
in Ray CPU tasks.
"""

from __future__ import annotations

import inspect
import json
import time
from dataclasses import replace
from typing import Any, Callable, Mapping, Sequence

import pyarrow as pa

from evalfleet import benchmarks
from evalfleet.benchmarks.prompting import prompt_hash, render
from evalfleet.contracts import Backend
from evalfleet.store.results import RECORD_SCHEMA
from evalfleet.types import GenerationParams, Item, Loglik, ModelRef, TaskSpec


def scores_on_cpu(spec: TaskSpec) -> bool:
    """True when the task's module executes untrusted code at score time (driver scores in CPU tasks)."""
    return bool(getattr(benchmarks.get_module(spec), "SCORE_ON_CPU_TASK", False))


def evaluate_shard(
    backend: Backend,
    spec: TaskSpec,
    items: Sequence[Item],
    model: ModelRef,
    *,
    backend_name: str,
    batch_size: int | None = None,
    shard: str = "",
) -> pa.Table:
    """Run `items` of task `spec` through `backend` (holding `model`) and return RECORD_SCHEMA rows in item order."""
    batch_size = batch_size or getattr(backend, "batch_size", 8)
    base = {
        "shard": shard,
        "task": spec.id,
        "task_version": spec.version,
        "model": model.id,
        "team": model.team,
        "family": model.family,
        "role": model.role,
        "prompt_style": model.prompt_style,
        "backend": backend_name,
    }
    runner = {"generate": _generate, "loglikelihood": _loglikelihood, "measure": _measure}[spec.kind]
    rows = runner(backend, spec, list(items), model, batch_size)
    for row in rows:
        for key, value in base.items():
            row[key] = value
    if spec.kind != "measure":
        by_id = {i.id: i for i in items}
        rows = [_extract(row, by_id[row["item_id"]], spec) for row in rows]
        if not scores_on_cpu(spec):
            rows = score_rows(rows, spec, by_id)
    return pa.Table.from_pylist(rows, schema=RECORD_SCHEMA)


def _row(item: Item, **fields: Any) -> dict:
    row = {
        "item_id": item.id,
        "subset": item.subset,
        "sample": 0,
        "prompt_hash": "",
        "output": "",
        "n_prompt_tokens": 0,
        "n_output_tokens": 0,
        "logliks": None,
        "loglik_tokens": None,
        "loglik_context_tokens": None,
        "loglik_greedy": None,
        "extracted": "",
        "score": None,
        "metrics": "{}",
        "error": None,
        "isolation": None,
        "latency_s": 0.0,
    }
    row.update(fields)
    return row


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _batched(
    backend: Backend, items: list[Item], batch_size: int, call: Callable[[list[Item]], list], make_rows
) -> list[dict]:
    """Call `call` per batch; on an exception, per item; `make_rows(item, result | exception, seconds)` → rows."""
    rows: list[dict] = []
    for start in range(0, len(items), batch_size):
        batch = items[start : start + batch_size]
        t0 = time.perf_counter()
        try:
            results = call(batch)
            per_item = (time.perf_counter() - t0) / len(batch)
            for item, result in zip(batch, results):
                rows += make_rows(item, result, per_item)
        except Exception:
            for item in batch:
                t1 = time.perf_counter()
                try:
                    result = call([item])[0]
                except Exception as exc:  # the item fails alone: record it
                    result = exc
                rows += make_rows(item, result, time.perf_counter() - t1)
    return rows


def _prompt(item: Item, model: ModelRef, backend: Backend) -> str:
    return render(item.messages, model.prompt_style, getattr(backend, "tokenizer", None))


def item_params(item: Item, params: GenerationParams) -> GenerationParams:
    """The item's decoding settings: `meta['max_new_tokens']` (LongBench subsets) caps the spec's."""
    cap = item.meta.get("max_new_tokens") if item.meta else None
    if cap is None or int(cap) >= params.max_new_tokens:
        return params
    return replace(params, max_new_tokens=max(1, int(cap)))


def _generate(backend: Backend, spec: TaskSpec, items: list[Item], model: ModelRef, batch_size: int) -> list[dict]:
    """Items are grouped by their effective GenerationParams (a batch shares one setting); rows in item order."""
    groups: dict[GenerationParams, list[Item]] = {}
    for item in items:
        groups.setdefault(item_params(item, spec.generation), []).append(item)
    by_item: dict[str, list[dict]] = {}
    for params, group in groups.items():
        for row in _generate_group(backend, params, group, model, batch_size):
            by_item.setdefault(row["item_id"], []).append(row)
    return [row for item in items for row in by_item.pop(item.id, [])]


def _generate_group(
    backend: Backend, params: GenerationParams, items: list[Item], model: ModelRef, batch_size: int
) -> list[dict]:
    n = params.num_samples

    def call(batch: list[Item]) -> list:
        prompts = [_prompt(i, model, backend) for i in batch]
        gens = backend.generate(prompts, params)
        if len(gens) != len(batch) * n:
            raise RuntimeError(f"backend returned {len(gens)} generations for {len(batch)} prompts x {n} samples")
        return [(p, gens[k * n : (k + 1) * n]) for k, p in enumerate(prompts)]

    def make_rows(item: Item, result: Any, seconds: float) -> list[dict]:
        if isinstance(result, BaseException):
            return [_row(item, sample=s, error=_error(result), score=0.0, latency_s=seconds) for s in range(n)]
        prompt, gens = result
        return [
            _row(
                item,
                sample=s,
                prompt_hash=prompt_hash(prompt),
                output=g.text,
                n_prompt_tokens=g.n_prompt_tokens,
                n_output_tokens=g.n_output_tokens,
                latency_s=seconds / n,
            )
            for s, g in enumerate(gens)
        ]

    return _batched(backend, items, batch_size, call, make_rows)


def _loglikelihood(backend: Backend, spec: TaskSpec, items: list[Item], model: ModelRef, batch_size: int) -> list[dict]:
    def call(batch: list[Item]) -> list:
        prompts = [_prompt(i, model, backend) for i in batch]
        requests = [(p, c) for p, i in zip(prompts, batch) for c in i.choices]
        lls = backend.loglikelihood(requests)
        out, k = [], 0
        for p, i in zip(prompts, batch):
            out.append((p, lls[k : k + len(i.choices)]))
            k += len(i.choices)
        return out

    def make_rows(item: Item, result: Any, seconds: float) -> list[dict]:
        if isinstance(result, BaseException):
            return [_row(item, error=_error(result), score=0.0, latency_s=seconds)]
        prompt, lls = result
        chosen = benchmarks.choose(lls, item, spec)
        output = item.choices[int(chosen)] if str(chosen).isdigit() and int(chosen) < len(item.choices) else ""
        return [
            _row(
                item,
                prompt_hash=prompt_hash(prompt),
                output=output,
                extracted=str(chosen),
                n_prompt_tokens=0,
                n_output_tokens=sum(ll.n_tokens for ll in lls),
                logliks=[float(ll.logprob) for ll in lls],
                loglik_tokens=[ll.n_tokens for ll in lls],
                loglik_context_tokens=[ll.n_context_tokens for ll in lls],
                loglik_greedy=[bool(ll.is_greedy) for ll in lls],
                latency_s=seconds,
            )
        ]

    return _batched(backend, items, batch_size, call, make_rows)


def _measure(backend: Backend, spec: TaskSpec, items: list[Item], model: ModelRef, batch_size: int) -> list[dict]:
    module = benchmarks.get_module(spec)
    rows = []
    for item in items:
        t0 = time.perf_counter()
        try:
            metrics = {k: float(v) for k, v in module.measure(backend, item, spec).items()}
            rows.append(
                _row(
                    item,
                    output=json.dumps(metrics, sort_keys=True),
                    metrics=json.dumps(metrics, sort_keys=True),
                    score=metrics.get(spec.metric),
                    latency_s=time.perf_counter() - t0,
                )
            )
        except Exception as exc:
            rows.append(_row(item, error=_error(exc), score=0.0, latency_s=time.perf_counter() - t0))
    return rows


def _extract(row: dict, item: Item, spec: TaskSpec) -> dict:
    """Fill `extracted` of a generate row (loglikelihood rows carry the chosen index already)."""
    if row["error"] is not None or spec.kind != "generate":
        return row
    try:
        row["extracted"] = str(benchmarks.get_module(spec).extract(row["output"], item, spec))
    except Exception as exc:
        row.update(error=f"extract: {_error(exc)}", score=0.0)
    return row


def recorded_logliks(row: Mapping[str, Any]) -> list[Loglik] | None:
    """The Loglik results of a recorded row (None for rows of other kinds): what `choose` and `score` saw."""
    values = row.get("logliks")
    if values is None:
        return None
    n = len(values)

    def column(name: str, default: Any) -> list:
        got = row.get(name)
        return list(got) if got is not None and len(got) == n else [default] * n

    return [
        Loglik(float(v), bool(g), int(t), int(c))
        for v, t, c, g in zip(
            values, column("loglik_tokens", 0), column("loglik_context_tokens", 0), column("loglik_greedy", False)
        )
    ]


def score_item(spec: TaskSpec, item: Item, extracted: str, logliks: Sequence[Loglik] | None = None) -> dict[str, Any]:
    """The module's per-item metrics for an extracted answer (loglikelihood modules may also get the logliks)."""
    fn = benchmarks.get_module(spec).score
    if logliks is not None and "logliks" in inspect.signature(fn).parameters:
        return dict(fn(extracted, item, spec, logliks=list(logliks)))
    return dict(fn(extracted, item, spec))


def score_rows(rows: list[dict], spec: TaskSpec, items: Mapping[str, Item]) -> list[dict]:
    """Fill score / metrics / isolation of rows without an error (an exception becomes the row's error)."""
    for row in rows:
        if row["error"] is not None:
            continue
        try:
            metrics = score_item(spec, items[row["item_id"]], row["extracted"], recorded_logliks(row))
            isolation = metrics.pop("isolation", None)
            metrics = {k: float(v) for k, v in metrics.items()}
            row.update(
                score=metrics.get(spec.metric),
                metrics=json.dumps(metrics, sort_keys=True),
                isolation=str(isolation) if isolation is not None else None,
            )
        except Exception as exc:
            row.update(error=f"score: {_error(exc)}", score=0.0)
    return rows


def with_sandbox(spec: TaskSpec, sandbox: str) -> TaskSpec:
    """`spec` with option sandbox='strict' when the run asks for it (the modules read the option)."""
    if sandbox != "strict" or spec.options.get("sandbox") == "strict":
        return spec
    return replace(spec, options={**spec.options, "sandbox": "strict"})
