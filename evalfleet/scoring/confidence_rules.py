"""The `confidence:` section of an edition's rule file, typed: how the paired bootstrap runs.

    confidence:
      replicates: 1000     # bootstrap replicates (10 .. 100000)
      seed: 2024           # fixed: the same records always give the same intervals, byte for byte
      level: 0.95          # two-sided level of every interval (0.5 .. 0.999)
      points_places: 10    # optional: P(in the points) = P(place <= this); default: the number of
                           # places a task's points table pays (rank-points), else the view's show_top
      enabled: true        # false: no intervals (as `evalfleet score --no-confidence`)

A rule file without the section gets these defaults. Read from `edition.raw`, never by rules.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evalfleet.errors import EvalfleetError
from evalfleet.spec.edition import Edition

KEYS = ("enabled", "replicates", "seed", "level", "points_places")


@dataclass(frozen=True)
class ConfidenceSettings:
    """How intervals, place intervals and separability are computed."""

    enabled: bool = True
    """False: `evalfleet score` computes no intervals."""
    replicates: int = 1000
    """Bootstrap replicates; every interval is a percentile interval over them."""
    seed: int = 2024
    """Seed of the resampling; each task draws from its own stream derived from (seed, task id)."""
    level: float = 0.95
    """Two-sided level: intervals run from the (1-level)/2 to the (1+level)/2 quantile."""
    points_places: int | None = None
    """P(in the points) counts replicates with place <= this; None: the points table's length, else show_top."""

    @property
    def quantiles(self) -> tuple[float, float]:
        """(low, high) quantile levels of an interval, e.g. (0.025, 0.975)."""
        return ((1 - self.level) / 2, (1 + self.level) / 2)

    def describe(self) -> str:
        """One line for the reports."""
        return (
            f"paired bootstrap over items: {self.replicates} replicates, seed {self.seed}, "
            f"{self.level:.0%} percentile intervals"
        )


def _integer(raw: dict, key: str, low: int, high: int, source: str, default: int | None) -> int | None:
    value = raw.get(key, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise EvalfleetError(
            f"must be an integer in [{low}, {high}], got {value!r}", source=source, field=f"confidence.{key}"
        )
    return value


def parse_confidence(edition: Edition) -> ConfidenceSettings:
    """The edition's `confidence:` settings (defaults where absent); unknown keys and bad values are errors."""
    source = f"scoring/{edition.name}.yaml"
    raw: Any = edition.raw.get("confidence") if edition.raw else None
    if raw is None:
        return ConfidenceSettings()
    if not isinstance(raw, dict):
        raise EvalfleetError("must be a mapping", source=source, field="confidence")
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise EvalfleetError(f"unknown key (known: {', '.join(KEYS)})", source=source, field=f"confidence.{unknown[0]}")
    d = ConfidenceSettings()
    level = raw.get("level", d.level)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0.5 <= level <= 0.999:
        raise EvalfleetError(
            f"must be a number in [0.5, 0.999], got {level!r}", source=source, field="confidence.level"
        )
    enabled = raw.get("enabled", d.enabled)
    if not isinstance(enabled, bool):
        raise EvalfleetError(f"must be true or false, got {enabled!r}", source=source, field="confidence.enabled")
    return ConfidenceSettings(
        enabled=enabled,
        replicates=_integer(raw, "replicates", 10, 100_000, source, d.replicates),
        seed=_integer(raw, "seed", 0, 2**63 - 1, source, d.seed),
        level=float(level),
        points_places=_integer(raw, "points_places", 1, 10**6, source, None),
    )
