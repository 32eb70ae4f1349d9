"""The run config (finals.yaml): which edition, which submissions, which tasks, where.

Structural problems (malformed YAML, unknown keys, wrong types at the top level) raise one
EvalfleetError naming the file and field. Problems confined to one submission (a wrong-typed
field, a missing checkpoint) are collected in `RunConfig.problems`; that submission is skipped
and every valid one is still evaluated.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from evalfleet.backends import BACKENDS, backend_options
from evalfleet.checks.probe import make_settings
from evalfleet.errors import EvalfleetError
from evalfleet.spec import validation as v
from evalfleet.types import DTYPES, PROMPT_STYLES, ROLES, ModelRef

SandboxMode = Literal["auto", "strict"]
"""Code-execution isolation: the strongest available, or namespaces-or-refuse."""
SANDBOX_MODES: tuple[SandboxMode, ...] = get_args(SandboxMode)
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
    "compact",
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
    sandbox: SandboxMode = "auto"
    """Code isolation: 'auto' (strongest available) or 'strict' (namespaces and a per-check cgroup, or refuse)."""
    probe: dict | None = None
    """Overrides of the probe task's options (tasks/edge_probe.yaml: repetitions, input_tokens, ...), checked as
    probe settings; None = the spec's."""
    compact: bool = False
    """Compact the results root when the run ends: each (task, model)'s shard files folded into one file
    (store/compaction.py, as `evalfleet compact`)."""
    problems: tuple[str, ...] = ()
    """One message per skipped submission (file and field named)."""


_DEFAULTS = {f.name: f.default for f in fields(RunConfig) if f.default is not MISSING}
"""RunConfig's field defaults: what an absent (or null) key of the file means."""
_FIELD_DEFAULT = object()


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
    v.known_keys(raw, _TOP_KEYS, source=source)

    def get(key: str, check, default: Any = _FIELD_DEFAULT, *, required: str = "", **kw: Any) -> Any:
        """raw[key] passed through `check` (a validation function); absent or null -> default (RunConfig's)."""
        if raw.get(key) is None:
            if required:
                v.required(required, source=source, field=key)
            return _DEFAULTS.get(key) if default is _FIELD_DEFAULT else default
        return check(raw[key], source=source, field=key, **kw)

    def count(key: str, minimum: int = 1) -> int | None:
        return get(key, v.integer, minimum=minimum)

    backend = get("backend", v.choice, allowed=tuple(BACKENDS))
    tasks = get("tasks", v.strings, (), what="a list of task ids")
    submissions = get("submissions", _list, required="a list of submissions")
    models, problems = _parse_submissions(submissions, source, base)
    if not models and not problems:
        raise EvalfleetError("no models listed", source=source, field="submissions")

    results_root = results or get("results", v.string, "results")
    return RunConfig(
        source=source,
        edition=get("edition", v.string, required="an edition name"),
        track=get("track", v.string),
        submissions=tuple(models),
        tasks=tuple(tasks),
        data_dir=_resolve(get("data_dir", v.string, "data"), base),
        results=results_root if "://" in results_root else _resolve(results_root, base if not results else Path.cwd()),
        backend=backend,
        backend_options=_backend_options(get("backend_options", v.mapping), backend, source),
        shard_size=count("shard_size"),
        batch_size=count("batch_size"),
        workers=count("workers"),
        in_flight=count("in_flight"),
        max_retries=count("max_retries", minimum=0),
        limit=count("limit"),
        max_new_tokens=count("max_new_tokens"),
        sandbox=get("sandbox", v.choice, allowed=SANDBOX_MODES),
        probe=_probe(get("probe", v.mapping), source),
        compact=get("compact", v.choice, allowed=(True, False)),
        problems=tuple(problems),
    )


def _list(value: Any, *, source: str, field: str) -> list:
    if not isinstance(value, list):
        v.wrong("a list", value, source=source, field=field)
    return value


def _backend_options(options: dict | None, backend: str, source: str) -> dict | None:
    """`backend_options`, every key one the backend declares (batch_size is the top-level field's)."""
    if options is None:
        return None
    if "batch_size" in options:
        raise EvalfleetError(
            "set the top-level 'batch_size' instead", source=source, field="backend_options.batch_size"
        )
    known = backend_options(backend) - {"batch_size"}
    v.known_keys(options, known, source=source, field="backend_options", what=f"{backend} backend option")
    return options


def _probe(overrides: dict | None, source: str) -> dict | None:
    """`probe:` overrides of the probe task's options, checked as probe settings."""
    if overrides is None:
        return None
    make_settings(overrides.get("mode", "default"), overrides, source=source, field="probe")
    return overrides


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
    raw = v.mapping(raw, source=source, field=where)
    v.known_keys(raw, _MODEL_KEYS, source=source, field=where)
    for key in ("path", "family"):
        if key not in raw:
            v.required("a string", source=source, field=f"{where}.{key}")
        v.string(raw[key], source=source, field=f"{where}.{key}", nonempty=True)
    choices = {"dtype": DTYPES, "prompt_style": PROMPT_STYLES, "role": ROLES}
    values = {
        key: v.choice(raw[key], allowed, source=source, field=f"{where}.{key}")
        for key, allowed in choices.items()
        if key in raw
    }
    adapter = raw.get("adapter")
    if adapter is not None:
        v.string(adapter, source=source, field=f"{where}.adapter")
    return ModelRef(
        team=team,
        family=raw["family"],
        path=_resolve(raw["path"], base),
        adapter=_resolve(adapter, base) if adapter else None,
        **values,
    )
