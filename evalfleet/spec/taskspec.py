"""Load a task spec (one YAML in tasks/) and apply a variant.

A task id is 'name' or 'name:variant'. A variant overrides top-level keys of the default; its
`generation` and `options` mappings are merged key by key over the default's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

import yaml

from evalfleet import benchmarks
from evalfleet.errors import EvalfleetError
from evalfleet.spec import validation as v
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
    """Validate a task mapping and build the TaskSpec (imports the benchmark module for its OPTIONS)."""
    if not isinstance(raw, dict):
        raise EvalfleetError("a task spec must be a mapping", source=source)
    v.known_keys(raw, _TOP_KEYS, source=source)
    _check_sections(raw, source)
    merged = _apply_variant(raw, variant, source)
    kind = v.choice(merged.get("kind", "generate"), TASK_KINDS, source=source, field="kind")
    for key in ("module", "metric"):
        if key not in merged:
            v.required("a string", source=source, field=key)
        v.string(merged[key], source=source, field=key, nonempty=True)
    data = merged.get("data", [])
    data = [data] if isinstance(data, str) else data
    data = v.strings(data, source=source, field="data", what="a list of file paths")
    options = v.mapping(merged.get("options"), source=source, field="options")
    generation = parse_generation(v.mapping(merged.get("generation"), source=source, field="generation"), source)
    check_options(options, merged["module"], source)
    return TaskSpec(
        name=name,
        variant=variant,
        version=str(merged.get("version", "1")),
        module=merged["module"],
        kind=kind,
        data_files=data,
        generation=generation,
        metric=merged["metric"],
        options=options,
        reference=str(merged.get("reference", "")),
        spec_hash=hashlib.sha256(f"{text}\0{variant}".encode()).hexdigest(),
    )


def check_options(options: Mapping[str, Any], module: str, source: str, field: str = "options") -> None:
    """Every key of `options` is one the benchmark module declares in its OPTIONS (the module must exist)."""
    try:
        known = benchmarks.module_options(module)
    except EvalfleetError as exc:
        raise EvalfleetError(exc.message, source=source, field="module") from None
    v.known_keys(options, known, source=source, field=field, what=f"{module} option")


def _check_sections(raw: dict, source: str) -> None:
    """Every variant's keys, and the option keys of the default and of every variant (not only the one loaded)."""
    variants = v.mapping(raw.get("variants"), source=source, field="variants")
    sections = [("", raw)]
    for name, override in variants.items():
        where = f"variants.{name}"
        override = v.mapping(override, source=source, field=where)
        v.known_keys(override, _TOP_KEYS - {"variants"}, source=source, field=where)
        sections.append((where, override))
    for where, section in sections:
        options = v.mapping(section.get("options"), source=source, field=v.join(where, "options"))
        module = section.get("module", raw.get("module"))
        if options and isinstance(module, str):
            check_options(options, module, source, field=v.join(where, "options"))


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
    raw = v.mapping(raw, source=source, field="generation")
    v.known_keys(raw, _GEN_KEYS, source=source, field="generation")
    stop = raw.get("stop", [])
    stop = v.strings([stop] if isinstance(stop, str) else stop, source=source, field="generation.stop")
    params = {k: raw[k] for k in ("max_new_tokens", "temperature", "num_samples", "max_prompt_tokens") if k in raw}
    for key in ("max_new_tokens", "num_samples"):
        if key in params:
            v.integer(params[key], source=source, field=f"generation.{key}", minimum=1)
    budget = params.get("max_prompt_tokens")
    if budget is not None and budget != "context":
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
            v.wrong("int >= 1 or 'context'", budget, source=source, field="generation.max_prompt_tokens")
    if "temperature" in params:
        v.number(params["temperature"], source=source, field="generation.temperature", minimum=0)
    return GenerationParams(stop=stop, **params)


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
