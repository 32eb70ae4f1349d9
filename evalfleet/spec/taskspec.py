"""Load a task spec (one YAML in tasks/) and apply a variant.

A task id is 'name' or 'name:variant'. A variant overrides top-level keys of the default; its
`generation` and `options` mappings are merged key by key over the default's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

from evalfleet.errors import EvalfleetError
from evalfleet.spec.paths import tasks_dir
from evalfleet.types import TASK_KINDS, GenerationParams, TaskSpec

_TOP_KEYS = {
    "name",
    "version",
    "module",
    "kind",
    "reference",
    "data",
    "metric",
    "generation",
    "options",
    "variants",
    "description",
}
_GEN_KEYS = {"max_new_tokens", "stop", "temperature", "num_samples", "max_prompt_tokens"}


def split_task_id(task_id: str) -> tuple[str, str]:
    """'bbh' -> ('bbh', 'default'); 'commonsenseqa:gen_c946f2' -> ('commonsenseqa', 'gen_c946f2')."""
    name, _, variant = task_id.partition(":")
    return name, variant or "default"


def available_tasks(directory: Path | None = None) -> list[str]:
    """Names of the task specs in `directory` (default: the project's tasks/)."""
    return sorted(p.stem for p in (directory or tasks_dir()).glob("*.yaml"))


def load_task(task_id: str, directory: Path | None = None) -> TaskSpec:
    """Read tasks/<name>.yaml and return the TaskSpec for the requested variant."""
    name, variant = split_task_id(task_id)
    path = (directory or tasks_dir()) / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(available_tasks(directory)) or "none"
        raise EvalfleetError(f"unknown task '{name}' (known: {known})", source=str(path), field="tasks")
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise EvalfleetError(f"malformed YAML: {exc}", source=str(path)) from exc
    return parse_task(raw, name=name, variant=variant, source=str(path), text=text)


def parse_task(raw: Any, *, name: str, variant: str = "default", source: str = "<task>", text: str = "") -> TaskSpec:
    """Validate a task mapping and build the TaskSpec (pure)."""
    if not isinstance(raw, dict):
        raise EvalfleetError("a task spec must be a mapping", source=source)
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise EvalfleetError(f"unknown keys {sorted(unknown)}", source=source, field=sorted(unknown)[0])
    merged = _apply_variant(raw, variant, source)
    kind = merged.get("kind", "generate")
    if kind not in TASK_KINDS:
        raise EvalfleetError(f"must be one of {TASK_KINDS}, got {kind!r}", source=source, field="kind")
    for key in ("module", "metric"):
        if not isinstance(merged.get(key), str):
            raise EvalfleetError("required string", source=source, field=key)
    data = merged.get("data", [])
    if isinstance(data, str):
        data = [data]
    if not isinstance(data, list) or not all(isinstance(d, str) for d in data):
        raise EvalfleetError("must be a list of file paths", source=source, field="data")
    options = merged.get("options", {}) or {}
    if not isinstance(options, dict):
        raise EvalfleetError("must be a mapping", source=source, field="options")
    return TaskSpec(
        name=name,
        variant=variant,
        version=str(merged.get("version", "1")),
        module=merged["module"],
        kind=kind,
        data_files=tuple(data),
        generation=parse_generation(merged.get("generation", {}) or {}, source),
        metric=merged["metric"],
        options=options,
        reference=str(merged.get("reference", "")),
        spec_hash=hashlib.sha256(f"{text}\0{variant}".encode()).hexdigest(),
    )


def with_options(spec: TaskSpec, overrides: dict | None) -> TaskSpec:
    """`spec` with `overrides` merged over its options (a run config's `probe:` settings); the spec hash
    changes with them, so shards measured under other settings are never reused."""
    if not overrides:
        return spec
    extra = json.dumps(overrides, sort_keys=True, default=str)
    return replace(
        spec,
        options={**spec.options, **overrides},
        spec_hash=hashlib.sha256(f"{spec.spec_hash}\0{extra}".encode()).hexdigest(),
    )


def parse_generation(raw: Any, source: str = "<task>") -> GenerationParams:
    """Build GenerationParams from a mapping, checking names, types and ranges."""
    if not isinstance(raw, dict):
        raise EvalfleetError("must be a mapping", source=source, field="generation")
    unknown = set(raw) - _GEN_KEYS
    if unknown:
        raise EvalfleetError(f"unknown keys {sorted(unknown)}", source=source, field="generation")
    stop = raw.get("stop", ())
    if isinstance(stop, str):
        stop = [stop]
    if not all(isinstance(s, str) for s in stop):
        raise EvalfleetError("must be a list of strings", source=source, field="generation.stop")
    params = {k: raw[k] for k in ("max_new_tokens", "temperature", "num_samples", "max_prompt_tokens") if k in raw}
    for key in ("max_new_tokens", "num_samples"):
        if key in params and (not isinstance(params[key], int) or params[key] < 1):
            raise EvalfleetError("must be an integer >= 1", source=source, field=f"generation.{key}")
    budget = params.get("max_prompt_tokens")
    if (
        budget is not None
        and budget != "context"
        and (not isinstance(budget, int) or isinstance(budget, bool) or budget < 1)
    ):
        raise EvalfleetError(
            "must be an integer >= 1 or 'context'", source=source, field="generation.max_prompt_tokens"
        )
    if "temperature" in params and (not isinstance(params["temperature"], (int, float)) or params["temperature"] < 0):
        raise EvalfleetError("must be a number >= 0", source=source, field="generation.temperature")
    return GenerationParams(stop=tuple(stop), **params)


def _apply_variant(raw: dict, variant: str, source: str) -> dict:
    if variant == "default":
        return raw
    variants = raw.get("variants") or {}
    if variant not in variants:
        raise EvalfleetError(
            f"unknown variant '{variant}' (known: default, {', '.join(variants) or 'none'})",
            source=source,
            field="variants",
        )
    override = variants[variant] or {}
    merged = {**raw, **override}
    for key in ("generation", "options"):
        if key in override:
            merged[key] = {**(raw.get(key) or {}), **(override[key] or {})}
    return merged
