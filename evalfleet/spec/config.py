"""The run config (finals.yaml): which edition, which submissions, which tasks, where.

Structural problems (malformed YAML, unknown keys, wrong types at the top level) raise one
EvalfleetError naming the file and field. Problems confined to one submission (a wrong-typed
field, a missing checkpoint) are collected in `RunConfig.problems`; that submission is skipped
and every valid one is still evaluated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from evalfleet.errors import EvalfleetError
from evalfleet.types import PROMPT_STYLES, ROLES, ModelRef

BACKEND_NAMES = ("hf", "vllm")
DTYPES = ("float32", "float16", "bfloat16")
_TOP_KEYS = {
    "edition",
    "track",
    "submissions",
    "tasks",
    "data_dir",
    "results",
    "backend",
    "shard_size",
    "batch_size",
    "workers",
    "limit",
    "max_new_tokens",
    "max_retries",
    "in_flight",
    "backend_options",
    "sandbox",
    "probe",
}
_MODEL_KEYS = {"path", "family", "dtype", "prompt_style", "adapter", "role"}


@dataclass(frozen=True)
class RunConfig:
    """A parsed run config; paths are absolute (resolved against the config file's directory)."""

    source: str
    """The config file it came from."""
    edition: str
    """Edition rule file name in scoring/, e.g. 'edge-llm-2024'."""
    submissions: tuple[ModelRef, ...]
    """Every valid model of every submission."""
    tasks: tuple[str, ...]
    """Task ids to run; empty means the edition's tasks and holdout."""
    data_dir: str
    """Directory holding the official benchmark files (task specs name files relative to it)."""
    results: str
    """Results root (local path or a pyarrow filesystem URI)."""
    track: str = ""
    """Edition track, e.g. 'compression' or 'scratch' (edge-llm-2024)."""
    backend: str = "hf"
    """'hf' (transformers) or 'vllm'."""
    backend_options: dict | None = None
    """Extra keyword arguments for the backend (e.g. tensor_parallel_size for vllm)."""
    shard_size: int = 64
    """Items per shard, >= 1. Changes shard boundaries, hence fingerprints."""
    batch_size: int = 8
    """Prompts per backend call, >= 1 (OpenCompass's kit used 8)."""
    workers: int | None = None
    """ModelWorker actors; None = one per GPU Ray reports, else one per 2 CPUs (at least 1)."""
    in_flight: int = 2
    """Shards queued per worker so the device never idles, >= 1."""
    max_retries: int = 2
    """Times a shard is retried on another worker after its worker died or raised, >= 0."""
    limit: int | None = None
    """Evaluate only the first N items (sorted ids) of each task: smoke runs and the demo."""
    max_new_tokens: int | None = None
    """Cap on every task's max_new_tokens (smoke runs and the demo); None keeps the specs'."""
    sandbox: str = "auto"
    """Code-execution isolation: 'auto' (strongest available) or 'strict' (namespaces or refuse)."""
    probe: dict | None = None
    """Overrides of the probe task's options (tasks/edge_probe.yaml: repetitions, input_tokens, ...); None = the spec's."""
    problems: tuple[str, ...] = ()
    """One message per skipped submission (file and field named)."""


def load_config(path: str | Path, *, results: str | None = None) -> RunConfig:
    """Read and validate a run config; `results` overrides the file's results root."""
    path = Path(path)
    if not path.is_file():
        raise EvalfleetError("config file not found", source=str(path))
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise EvalfleetError(f"malformed YAML: {exc}", source=str(path)) from exc
    return parse_config(raw, source=str(path), base=path.parent.resolve(), results=results)


def parse_config(raw: Any, *, source: str, base: Path, results: str | None = None) -> RunConfig:
    """Validate a config mapping (pure apart from path resolution)."""
    if not isinstance(raw, dict):
        raise EvalfleetError("a run config must be a mapping", source=source)
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise EvalfleetError(f"unknown key (known: {', '.join(sorted(_TOP_KEYS))})", source=source, field=unknown[0])

    def get(key: str, kind: type | tuple, default: Any = None, *, required: bool = False) -> Any:
        if key not in raw or raw[key] is None:
            if required:
                raise EvalfleetError("required", source=source, field=key)
            return default
        value = raw[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            raise EvalfleetError(f"must be {names}, got {type(value).__name__} {value!r}", source=source, field=key)
        return value

    def positive(key: str, default: Any, minimum: int = 1) -> Any:
        value = get(key, int, default)
        if value is not None and value < minimum:
            raise EvalfleetError(f"must be >= {minimum}, got {value}", source=source, field=key)
        return value

    backend = get("backend", str, "hf")
    if backend not in BACKEND_NAMES:
        raise EvalfleetError(f"must be one of {BACKEND_NAMES}, got {backend!r}", source=source, field="backend")
    sandbox = get("sandbox", str, "auto")
    if sandbox not in ("auto", "strict"):
        raise EvalfleetError(f"must be 'auto' or 'strict', got {sandbox!r}", source=source, field="sandbox")
    tasks = get("tasks", list, [])
    if not all(isinstance(t, str) for t in tasks):
        raise EvalfleetError("must be a list of task ids", source=source, field="tasks")
    submissions = get("submissions", list, required=True)
    models, problems = _parse_submissions(submissions, source, base)
    if not models and not problems:
        raise EvalfleetError("no models listed", source=source, field="submissions")

    results_root = results or get("results", str, "results")
    return RunConfig(
        source=source,
        edition=get("edition", str, required=True),
        track=get("track", str, ""),
        submissions=tuple(models),
        tasks=tuple(tasks),
        data_dir=_resolve(get("data_dir", str, "data"), base),
        results=results_root if "://" in results_root else _resolve(results_root, base if not results else Path.cwd()),
        backend=backend,
        backend_options=get("backend_options", dict, None),
        shard_size=positive("shard_size", 64),
        batch_size=positive("batch_size", 8),
        workers=positive("workers", None),
        in_flight=positive("in_flight", 2),
        max_retries=positive("max_retries", 2, minimum=0),
        limit=positive("limit", None),
        max_new_tokens=positive("max_new_tokens", None),
        sandbox=sandbox,
        probe=get("probe", dict, None),
        problems=tuple(problems),
    )


def _resolve(value: str, base: Path) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def _parse_submissions(submissions: list, source: str, base: Path) -> tuple[list[ModelRef], list[str]]:
    models: list[ModelRef] = []
    problems: list[str] = []
    seen: set[str] = set()
    for i, sub in enumerate(submissions):
        where = f"submissions[{i}]"
        if not isinstance(sub, dict) or not isinstance(sub.get("team"), str) or not isinstance(sub.get("models"), list):
            problems.append(f"{source}: field '{where}': needs 'team' (string) and 'models' (list)")
            continue
        team = sub["team"]
        for j, m in enumerate(sub["models"]):
            field_path = f"{where}.models[{j}]"
            try:
                ref = _parse_model(team, m, source, field_path, base)
            except EvalfleetError as exc:
                problems.append(f"team {team}: {exc}")
                continue
            if ref.id in seen:
                problems.append(f"team {team}: {source}: field '{field_path}': duplicate model '{ref.id}'")
                continue
            seen.add(ref.id)
            models.append(ref)
    return models, problems


def _parse_model(team: str, raw: Any, source: str, where: str, base: Path) -> ModelRef:
    if not isinstance(raw, dict):
        raise EvalfleetError("must be a mapping", source=source, field=where)
    unknown = sorted(set(raw) - _MODEL_KEYS)
    if unknown:
        raise EvalfleetError(
            f"unknown key (known: {', '.join(sorted(_MODEL_KEYS))})", source=source, field=f"{where}.{unknown[0]}"
        )
    for key in ("path", "family"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise EvalfleetError("required string", source=source, field=f"{where}.{key}")
    choices = {"dtype": DTYPES, "prompt_style": PROMPT_STYLES, "role": ROLES}
    defaults = {"dtype": "float32", "prompt_style": "base", "role": "submission"}
    values = {}
    for key, allowed in choices.items():
        value = raw.get(key, defaults[key])
        if value not in allowed:
            raise EvalfleetError(f"must be one of {allowed}, got {value!r}", source=source, field=f"{where}.{key}")
        values[key] = value
    adapter = raw.get("adapter")
    if adapter is not None and not isinstance(adapter, str):
        raise EvalfleetError("must be a path string", source=source, field=f"{where}.adapter")
    return ModelRef(
        team=team,
        family=raw["family"],
        path=_resolve(raw["path"], base),
        adapter=_resolve(adapter, base) if adapter else None,
        **values,
    )
