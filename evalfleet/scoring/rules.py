"""The scoring rules of an edition, typed: read from the rule file's `tracks`, `metrics` and `views`.

Every view takes its settings from one of these frozen dataclasses, so a rule file that names an
unknown view, policy or metric fails here with the file and field named, not deep inside a view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from evalfleet.errors import EvalfleetError
from evalfleet.spec import validation as v
from evalfleet.spec.edition import Edition

VIEW_NAMES = ("averaged-three-model", "rank-points", "geometric-mean", "helm-mean-win-rate", "delta")
TIE_POLICIES = ("shared-mean", "shared-best")
MISSING_FAMILY_POLICIES = ("zero", "mean-of-present", "exclude")
MISSING_MEMORY = ("flag", "disqualify")
DELTA_METRICS = ("acc", "acc_norm")


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


def _given(section: Mapping, key: str, check, where: str, source: str, name: str = "", **kw: Any) -> dict:
    """{name (default: key): check(value)} when `section` sets `key`, else {} (the dataclass default applies)."""
    if key not in section:
        return {}
    return {name or key: check(section[key], source=source, field=f"{where}.{key}", **kw)}


def _points(value: Any, *, source: str, field: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not value:
        v.wrong("a non-empty list of points", value, source=source, field=field)
    return tuple(v.number(x, source=source, field=f"{field}[{i}]", fractions=True) for i, x in enumerate(value))


def parse_rules(edition: Edition) -> ScoringRules:
    """Type-check the rule file's scoring sections (pure)."""
    source = _source(edition)
    raw = edition.raw
    views = v.mapping(edition.views, source=source, field="views")
    for name in views:
        v.choice(name, VIEW_NAMES, source=source, field=f"views.{name}")
    tracks = {
        name: _track(name, v.mapping(spec, source=source, field=f"tracks.{name}"), source)
        for name, spec in v.mapping(raw.get("tracks"), source=source, field="tracks").items()
    }
    if not tracks:
        tracks = {"": TrackRules(name="")}
    default_track = v.choice(
        raw.get("default_track", next(iter(tracks))), tuple(tracks), source=source, field="default_track"
    )
    metrics = v.mapping(raw.get("metrics"), source=source, field="metrics")
    for task, metric in metrics.items():
        v.string(metric, source=source, field=f"metrics.{task}")

    def section(name: str) -> dict:
        return v.mapping(views[name], source=source, field=f"views.{name}")

    return ScoringRules(
        edition=edition,
        views=tuple(views),
        tracks=tracks,
        default_track=default_track,
        metrics=dict(metrics),
        rank_points=_rank_points(section("rank-points"), source) if "rank-points" in views else None,
        geometric=_geometric(views, source) if {"geometric-mean", "helm-mean-win-rate"} & set(views) else None,
        delta=_delta(section("delta"), source) if "delta" in views else None,
    )


def _track(name: str, raw: dict, source: str) -> TrackRules:
    where = f"tracks.{name}"
    v.known_keys(raw, {"families", "missing_family", "description"}, source=source, field=where)
    families: dict[str, tuple[str, ...]] = {}
    for family, patterns in v.mapping(raw.get("families"), source=source, field=f"{where}.families").items():
        patterns = patterns or [family]
        if not isinstance(patterns, list) or not all(isinstance(p, str) and p for p in patterns):
            v.wrong("a list of name patterns", patterns, source=source, field=f"{where}.families.{family}")
        families[str(family)] = tuple(p.lower() for p in patterns)
    return TrackRules(
        name=name,
        families=families,
        **_given(raw, "missing_family", v.choice, where, source, allowed=MISSING_FAMILY_POLICIES),
    )


def _rank_points(raw: dict, source: str) -> RankPointsRules:
    where = "views.rank-points"
    known = {"task_points", "throughput_points", "throughput", "memory", "ties", "tie_decimals", "show_top"}
    v.known_keys(raw, known, source=source, field=where)
    throughput = v.mapping(raw.get("throughput"), source=source, field=f"{where}.throughput")
    memory = v.mapping(raw.get("memory"), source=source, field=f"{where}.memory")
    v.known_keys(throughput, {"task", "metric"}, source=source, field=f"{where}.throughput")
    v.known_keys(memory, {"task", "metric", "limit_mb", "missing"}, source=source, field=f"{where}.memory")
    return RankPointsRules(
        **_given(raw, "task_points", _points, where, source),
        **_given(raw, "throughput_points", _points, where, source),
        **_given(throughput, "task", v.string, f"{where}.throughput", source, "throughput_task"),
        **_given(throughput, "metric", v.string, f"{where}.throughput", source, "throughput_metric"),
        **_given(memory, "metric", v.string, f"{where}.memory", source, "memory_metric"),
        **_given(memory, "limit_mb", v.number, f"{where}.memory", source, "memory_limit_mb", fractions=True),
        **_given(memory, "missing", v.choice, f"{where}.memory", source, "missing_memory", allowed=MISSING_MEMORY),
        **_given(raw, "ties", v.choice, where, source, allowed=TIE_POLICIES),
        **_given(raw, "tie_decimals", v.integer, where, source, minimum=0),
        **_given(raw, "show_top", v.integer, where, source, minimum=1),
    )


def _geometric(views: dict, source: str) -> GeometricRules:
    where = "views.geometric-mean"
    raw = v.mapping(views.get("geometric-mean"), source=source, field=where)
    v.known_keys(
        raw, {"sets", "missing_value", "missing_value_lower_is_better", "show_top"}, source=source, field=where
    )
    sets = v.mapping(raw.get("sets"), source=source, field=f"{where}.sets")
    if not sets:
        v.wrong("a mapping of at least one set of scenarios", raw.get("sets"), source=source, field=f"{where}.sets")
    scenarios: list[Scenario] = []
    weights: dict[str, float] = {}
    for set_name, spec in sets.items():
        swhere = f"{where}.sets.{set_name}"
        spec = v.mapping(spec, source=source, field=swhere)
        v.known_keys(spec, {"weight", "scenarios"}, source=source, field=swhere)
        weights[set_name] = v.number(spec.get("weight", 1), source=source, field=f"{swhere}.weight", fractions=True)
        for scen_name, scen in v.mapping(spec.get("scenarios"), source=source, field=f"{swhere}.scenarios").items():
            scen_where = f"{swhere}.scenarios.{scen_name}"
            scen = v.mapping(scen, source=source, field=scen_where)
            scenarios.append(_scenario(str(scen_name), set_name, scen, scen_where, source))
    return GeometricRules(
        scenarios=tuple(scenarios),
        weights=weights,
        **_given(raw, "missing_value", v.number, where, source, fractions=True),
        **_given(raw, "missing_value_lower_is_better", v.number, where, source, fractions=True),
        **_given(raw, "show_top", v.integer, where, source, minimum=1),
    )


def _scenario(name: str, set_name: str, raw: dict, where: str, source: str) -> Scenario:
    v.known_keys(raw, {"metrics", "run"}, source=source, field=where)
    metrics: list[Metric] = []
    for i, m in enumerate(raw.get("metrics") or []):
        if isinstance(m, str):
            metrics.append(Metric(m))
        elif isinstance(m, dict) and isinstance(m.get("name"), str):
            v.known_keys(m, {"name", "lower_is_better"}, source=source, field=f"{where}.metrics[{i}]")
            metrics.append(Metric(m["name"], bool(m.get("lower_is_better", False))))
        else:
            v.wrong("a metric name or {name, lower_is_better}", m, source=source, field=f"{where}.metrics[{i}]")
    if not metrics:
        v.wrong("a non-empty list of metrics", raw.get("metrics"), source=source, field=f"{where}.metrics")
    run = v.mapping(raw.get("run"), source=source, field=f"{where}.run")
    v.known_keys(run, {"task", "metric", "scale"}, source=source, field=f"{where}.run")
    if run:
        for key in ("task", "metric"):
            if key not in run:
                v.required("a string", source=source, field=f"{where}.run.{key}")
            v.string(run[key], source=source, field=f"{where}.run.{key}")
    return Scenario(
        name=name,
        set=set_name,
        metrics=tuple(metrics),
        **_given(run, "task", v.string, f"{where}.run", source, "run_task"),
        **_given(run, "metric", v.string, f"{where}.run", source, "run_metric"),
        **_given(run, "scale", v.number, f"{where}.run", source, "run_scale", fractions=True),
    )


def _delta(raw: dict, source: str) -> DeltaRules:
    where = "views.delta"
    v.known_keys(raw, {"use_cases", "metric", "show_top"}, source=source, field=where)
    use_cases = v.mapping(raw.get("use_cases"), source=source, field=f"{where}.use_cases")
    if not use_cases or not all(isinstance(t, str) for t in use_cases.values()):
        v.wrong("a mapping of each use case to a task id", use_cases, source=source, field=f"{where}.use_cases")
    return DeltaRules(
        use_cases={str(k): t for k, t in use_cases.items()},
        **_given(raw, "metric", v.choice, where, source, allowed=DELTA_METRICS),
        **_given(raw, "show_top", v.integer, where, source, minimum=1),
    )
