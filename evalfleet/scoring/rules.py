"""The scoring rules of an edition, typed: read from the rule file's `tracks`, `metrics` and `views`.

Every view takes its settings from one of these frozen dataclasses, so a rule file that names an
unknown view, policy or metric fails here with the file and field named, not deep inside a view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Mapping

from evalfleet.errors import EvalfleetError
from evalfleet.spec.edition import Edition

VIEW_NAMES = ("averaged-three-model", "rank-points", "geometric-mean", "helm-mean-win-rate", "delta")
TIE_POLICIES = ("shared-mean", "shared-best")
MISSING_FAMILY_POLICIES = ("zero", "mean-of-present", "exclude")


@dataclass(frozen=True)
class TrackRules:
    """How a team's models combine into one team score per task."""

    name: str
    """Track name, e.g. 'compression' or 'scratch'."""
    families: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Required family -> substrings that identify it in ModelRef.family (case-insensitive); empty = one model."""
    missing_family: str = "zero"
    """'zero' (a missing model scores 0), 'mean-of-present', or 'exclude' (no team score for the task)."""


@dataclass(frozen=True)
class RankPointsRules:
    """Places -> points per task, doubled for throughput, memory gate (edge-llm-2024)."""

    task_points: tuple[float, ...] = (10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
    """Points of places 1, 2, ... for every open and holdout task; later places get 0."""
    throughput_points: tuple[float, ...] = (20, 18, 16, 14, 12, 10, 8, 6, 4, 2)
    """Points of places 1, 2, ... for throughput."""
    throughput_task: str = "edge_probe"
    """Task id of the probe records."""
    throughput_metric: str = "throughput"
    """Probe metric ranked for throughput (higher is better)."""
    memory_metric: str = "memory_mb"
    """Probe metric holding peak inference memory in MB (MiB, as the kit printed it)."""
    memory_limit_mb: float = 12288.0
    """A team whose peak memory over any model exceeds this is disqualified."""
    missing_memory: str = "flag"
    """'flag' (no memory figure: shown, not disqualified) or 'disqualify'."""
    ties: str = "shared-mean"
    """'shared-mean': tied teams share the best place, each gets the mean of the spanned places' points;
    'shared-best': each gets the best place's points."""
    tie_decimals: int = 9
    """Values are rounded to this many decimals before ranking, so float noise cannot break a tie."""
    show_top: int = 15
    """Rows shown in the Markdown leaderboard."""


@dataclass(frozen=True)
class Metric:
    """One HELM metric of a 2023 scenario."""

    name: str
    """HELM's display name, e.g. 'MMLU - EM'."""
    lower_is_better: bool = False
    """True for the bias metrics of sam_sum; missing values become 1000.0 instead of 0.0."""


@dataclass(frozen=True)
class Scenario:
    """One 2023 scenario: its metrics and where its values come from."""

    name: str
    """Scenario name as in '<name> Mean Win Rate', e.g. 'MMLU'."""
    set: str
    """'open' or 'hidden'."""
    metrics: tuple[Metric, ...]
    """Metrics averaged into the scenario's mean win rate."""
    run_task: str = ""
    """evalfleet task id that evaluates this scenario itself ('' = import a HELM table)."""
    run_metric: str = ""
    """The task's metric that fills the scenario's first metric."""
    run_scale: float = 1.0
    """Factor applied to the run's value (0.01 turns a percentage into HELM's fraction)."""


@dataclass(frozen=True)
class GeometricRules:
    """The 2023 official scorer's settings."""

    scenarios: tuple[Scenario, ...]
    """All ranked scenarios, open and hidden."""
    weights: Mapping[str, float]
    """Set name -> weight in Score_full (open 1/3, hidden 2/3)."""
    missing_value: float = 0.0
    """Value of a missing higher-is-better metric before ranking."""
    missing_value_lower_is_better: float = 1000.0
    """Value of a missing lower-is-better metric before ranking."""
    show_top: int = 15
    """Rows shown in the Markdown leaderboard."""


@dataclass(frozen=True)
class DeltaRules:
    """ELMB: improved minus base per use case."""

    use_cases: Mapping[str, str]
    """Use case -> task id, e.g. 'roleplay' -> 'elmb_roleplay'."""
    metric: str = "acc"
    """'acc' or 'acc_norm' (the organizers never said which is official)."""
    show_top: int = 15
    """Rows shown in the Markdown leaderboard."""


@dataclass(frozen=True)
class ScoringRules:
    """Everything the scoring layer reads from one rule file."""

    edition: Edition
    """The loaded rule file."""
    views: tuple[str, ...]
    """Views computed, in report order."""
    tracks: Mapping[str, TrackRules]
    """Track name -> rules; '' is the edition without tracks."""
    default_track: str
    """Track used when the run config names none."""
    metrics: Mapping[str, str]
    """Task id -> headline metric overriding the task spec's `metric`."""
    rank_points: RankPointsRules | None = None
    """Set when 'rank-points' is a view."""
    geometric: GeometricRules | None = None
    """Set when 'geometric-mean' or 'helm-mean-win-rate' is a view."""
    delta: DeltaRules | None = None
    """Set when 'delta' is a view."""

    def track(self, name: str) -> TrackRules:
        """The rules of track `name` ('' = the default track)."""
        key = name or self.default_track
        if key not in self.tracks:
            known = ", ".join(sorted(self.tracks)) or "none"
            raise EvalfleetError(
                f"unknown track '{key}' (known: {known})", source=_source(self.edition), field="tracks"
            )
        return self.tracks[key]


def _source(edition: Edition) -> str:
    return f"scoring/{edition.name}.yaml"


def _number(value: Any, where: str, source: str) -> float:
    if isinstance(value, bool):
        raise EvalfleetError(f"must be a number, got {value!r}", source=source, field=where)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(Fraction(value.replace(" ", "")))
        except (ValueError, ZeroDivisionError):
            pass
    raise EvalfleetError(f"must be a number or a fraction like 1/3, got {value!r}", source=source, field=where)


def _mapping(value: Any, where: str, source: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EvalfleetError("must be a mapping", source=source, field=where)
    return value


def _choice(value: Any, allowed: tuple[str, ...], where: str, source: str) -> str:
    if value not in allowed:
        raise EvalfleetError(f"must be one of {allowed}, got {value!r}", source=source, field=where)
    return value


def _known_keys(raw: dict, known: set[str], where: str, source: str) -> None:
    unknown = sorted(set(raw) - known)
    if unknown:
        raise EvalfleetError(
            f"unknown key (known: {', '.join(sorted(known))})", source=source, field=f"{where}.{unknown[0]}"
        )


def parse_rules(edition: Edition) -> ScoringRules:
    """Type-check the rule file's scoring sections (pure)."""
    source = _source(edition)
    raw = edition.raw
    views = _mapping(edition.views, "views", source)
    for name in views:
        _choice(name, VIEW_NAMES, f"views.{name}", source)
    tracks = {
        name: _track(name, _mapping(spec, f"tracks.{name}", source), source)
        for name, spec in _mapping(raw.get("tracks"), "tracks", source).items()
    }
    if not tracks:
        tracks = {"": TrackRules(name="")}
    default_track = raw.get("default_track", next(iter(tracks)))
    if default_track not in tracks:
        raise EvalfleetError(
            f"names no track listed under 'tracks' ({', '.join(tracks)})", source=source, field="default_track"
        )
    metrics = _mapping(raw.get("metrics"), "metrics", source)
    for task, metric in metrics.items():
        if not isinstance(metric, str):
            raise EvalfleetError("must be a metric name", source=source, field=f"metrics.{task}")
    return ScoringRules(
        edition=edition,
        views=tuple(views),
        tracks=tracks,
        default_track=default_track,
        metrics=dict(metrics),
        rank_points=_rank_points(_mapping(views["rank-points"], "views.rank-points", source), source)
        if "rank-points" in views
        else None,
        geometric=_geometric(views, source) if {"geometric-mean", "helm-mean-win-rate"} & set(views) else None,
        delta=_delta(_mapping(views["delta"], "views.delta", source), source) if "delta" in views else None,
    )


def _track(name: str, raw: dict, source: str) -> TrackRules:
    where = f"tracks.{name}"
    _known_keys(raw, {"families", "missing_family", "description"}, where, source)
    families: dict[str, tuple[str, ...]] = {}
    for family, patterns in _mapping(raw.get("families"), f"{where}.families", source).items():
        patterns = patterns or [family]
        if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
            raise EvalfleetError("must be a list of name patterns", source=source, field=f"{where}.families.{family}")
        families[str(family)] = tuple(p.lower() for p in patterns)
    policy = _choice(raw.get("missing_family", "zero"), MISSING_FAMILY_POLICIES, f"{where}.missing_family", source)
    return TrackRules(name=name, families=families, missing_family=policy)


def _points(value: Any, where: str, source: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        raise EvalfleetError("must be a non-empty list of points", source=source, field=where)
    return tuple(_number(v, f"{where}[{i}]", source) for i, v in enumerate(value))


def _rank_points(raw: dict, source: str) -> RankPointsRules:
    where = "views.rank-points"
    known = {"task_points", "throughput_points", "throughput", "memory", "ties", "tie_decimals", "show_top"}
    _known_keys(raw, known, where, source)
    d = RankPointsRules()
    throughput = _mapping(raw.get("throughput"), f"{where}.throughput", source)
    memory = _mapping(raw.get("memory"), f"{where}.memory", source)
    _known_keys(throughput, {"task", "metric"}, f"{where}.throughput", source)
    _known_keys(memory, {"task", "metric", "limit_mb", "missing"}, f"{where}.memory", source)
    return RankPointsRules(
        task_points=_points(raw.get("task_points", list(d.task_points)), f"{where}.task_points", source),
        throughput_points=_points(
            raw.get("throughput_points", list(d.throughput_points)), f"{where}.throughput_points", source
        ),
        throughput_task=str(throughput.get("task", d.throughput_task)),
        throughput_metric=str(throughput.get("metric", d.throughput_metric)),
        memory_metric=str(memory.get("metric", d.memory_metric)),
        memory_limit_mb=_number(memory.get("limit_mb", d.memory_limit_mb), f"{where}.memory.limit_mb", source),
        missing_memory=_choice(
            memory.get("missing", d.missing_memory), ("flag", "disqualify"), f"{where}.memory.missing", source
        ),
        ties=_choice(raw.get("ties", d.ties), TIE_POLICIES, f"{where}.ties", source),
        tie_decimals=int(_number(raw.get("tie_decimals", d.tie_decimals), f"{where}.tie_decimals", source)),
        show_top=int(_number(raw.get("show_top", d.show_top), f"{where}.show_top", source)),
    )


def _geometric(views: dict, source: str) -> GeometricRules:
    where = "views.geometric-mean"
    raw = _mapping(views.get("geometric-mean"), where, source)
    _known_keys(raw, {"sets", "missing_value", "missing_value_lower_is_better", "show_top"}, where, source)
    sets = _mapping(raw.get("sets"), f"{where}.sets", source)
    if not sets:
        raise EvalfleetError("needs at least one set of scenarios", source=source, field=f"{where}.sets")
    scenarios: list[Scenario] = []
    weights: dict[str, float] = {}
    for set_name, spec in sets.items():
        swhere = f"{where}.sets.{set_name}"
        spec = _mapping(spec, swhere, source)
        _known_keys(spec, {"weight", "scenarios"}, swhere, source)
        weights[set_name] = _number(spec.get("weight", 1), f"{swhere}.weight", source)
        for scen_name, scen in _mapping(spec.get("scenarios"), f"{swhere}.scenarios", source).items():
            scenarios.append(
                _scenario(
                    str(scen_name),
                    set_name,
                    _mapping(scen, f"{swhere}.scenarios.{scen_name}", source),
                    f"{swhere}.scenarios.{scen_name}",
                    source,
                )
            )
    return GeometricRules(
        scenarios=tuple(scenarios),
        weights=weights,
        missing_value=_number(raw.get("missing_value", 0.0), f"{where}.missing_value", source),
        missing_value_lower_is_better=_number(
            raw.get("missing_value_lower_is_better", 1000.0), f"{where}.missing_value_lower_is_better", source
        ),
        show_top=int(_number(raw.get("show_top", 15), f"{where}.show_top", source)),
    )


def _scenario(name: str, set_name: str, raw: dict, where: str, source: str) -> Scenario:
    _known_keys(raw, {"metrics", "run"}, where, source)
    metrics: list[Metric] = []
    for i, m in enumerate(raw.get("metrics") or []):
        if isinstance(m, str):
            metrics.append(Metric(m))
        elif isinstance(m, dict) and isinstance(m.get("name"), str):
            _known_keys(m, {"name", "lower_is_better"}, f"{where}.metrics[{i}]", source)
            metrics.append(Metric(m["name"], bool(m.get("lower_is_better", False))))
        else:
            raise EvalfleetError(
                "must be a metric name or {name, lower_is_better}", source=source, field=f"{where}.metrics[{i}]"
            )
    if not metrics:
        raise EvalfleetError("needs at least one metric", source=source, field=f"{where}.metrics")
    run = _mapping(raw.get("run"), f"{where}.run", source)
    _known_keys(run, {"task", "metric", "scale"}, f"{where}.run", source)
    if run and not (isinstance(run.get("task"), str) and isinstance(run.get("metric"), str)):
        raise EvalfleetError("needs 'task' and 'metric'", source=source, field=f"{where}.run")
    return Scenario(
        name=name,
        set=set_name,
        metrics=tuple(metrics),
        run_task=run.get("task", ""),
        run_metric=run.get("metric", ""),
        run_scale=_number(run.get("scale", 1.0), f"{where}.run.scale", source),
    )


def _delta(raw: dict, source: str) -> DeltaRules:
    where = "views.delta"
    _known_keys(raw, {"use_cases", "metric", "show_top"}, where, source)
    use_cases = _mapping(raw.get("use_cases"), f"{where}.use_cases", source)
    if not use_cases or not all(isinstance(v, str) for v in use_cases.values()):
        raise EvalfleetError("must map each use case to a task id", source=source, field=f"{where}.use_cases")
    return DeltaRules(
        use_cases={str(k): v for k, v in use_cases.items()},
        metric=_choice(raw.get("metric", "acc"), ("acc", "acc_norm"), f"{where}.metric", source),
        show_top=int(_number(raw.get("show_top", 15), f"{where}.show_top", source)),
    )
