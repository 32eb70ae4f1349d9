"""View 'averaged-three-model': one team score per task from a team's models.

Compression track (edge-llm-2024): the mean over the team's three base-model families. A family
the team did not submit is handled by the track's `missing_family` policy and always flagged.
Scratch track (a track without families): the team's single model; more than one is an error.
A row with an empty family is a team score already averaged elsewhere (an imported kit CSV without a
Family column): it is used as it is and flagged 'team score as imported'.
"""

from __future__ import annotations

import pandas as pd

from evalfleet.errors import EvalfleetError
from evalfleet.scoring.rules import TrackRules

OUT_COLUMNS = ["team", "task", "value", "n_models", "missing_families", "flag"]


def family_of(family: str, track: TrackRules) -> str | None:
    """The required family a model's family name belongs to (substring match), or None."""
    name = family.lower()
    for required, patterns in track.families.items():
        if required.lower() == name or any(p in name for p in patterns):
            return required
    return None


def averaged_three_model(rows: pd.DataFrame, track: TrackRules, *, teams: list[str] | None = None) -> pd.DataFrame:
    """Team score per task from headline rows (team, model, family, task, value).

    Returns columns team, task, value, n_models, missing_families ('' or comma-separated), flag.
    `teams` lists every team to report (default: the teams in `rows`); a team with no row for a task
    still gets a row with value NaN, flagged 'no score' (it takes no place); the missing-family policy
    applies when some, not all, of its families have a score.
    """
    teams = sorted(set(rows["team"])) if teams is None else list(teams)
    tasks = list(dict.fromkeys(rows["task"]))
    cells = dict(list(rows.groupby(["team", "task"], sort=False))) if len(rows) else {}  # rows in their order
    none = rows.iloc[0:0]
    out = [_team_task(team, task, cells.get((team, task), none), track) for team in teams for task in tasks]
    return pd.DataFrame(out, columns=OUT_COLUMNS)


def _team_task(team: str, task: str, here: pd.DataFrame, track: TrackRules) -> dict:
    if here.empty:
        return dict(team=team, task=task, value=float("nan"), n_models=0, missing_families="", flag=f"no {task} score")
    imported = here[here["family"].fillna("").astype(str) == ""]
    if len(imported):
        if len(here) > 1:
            raise EvalfleetError(
                f"team '{team}' has both a team-level score and per-model scores for task '{task}'", field="family"
            )
        value = float(imported["value"].iloc[0])
        return dict(team=team, task=task, value=value, n_models=0, missing_families="", flag="team score as imported")
    if not track.families:
        if len(here) > 1:
            raise EvalfleetError(
                f"team '{team}' has {len(here)} models for task '{task}'; track '{track.name}' takes one",
                field="submissions",
            )
        value = float(here["value"].iloc[0]) if len(here) else float("nan")
        flag = "" if len(here) and pd.notna(value) else f"no {task} score"
        return dict(team=team, task=task, value=value, n_models=len(here), missing_families="", flag=flag)
    by_family: dict[str, float] = {}
    unknown = []
    for row in here.itertuples():
        fam = family_of(str(row.family), track)
        if fam is None:
            unknown.append(str(row.family))
        elif fam in by_family:
            raise EvalfleetError(f"team '{team}' has two '{fam}' models for task '{task}'", field="submissions")
        else:
            by_family[fam] = float(row.value)
    if unknown:
        raise EvalfleetError(
            f"team '{team}': family {unknown[0]!r} is none of the track's {list(track.families)}",
            field="submissions.family",
        )
    missing = [f for f in track.families if f not in by_family or pd.isna(by_family[f])]
    present = [v for f, v in by_family.items() if pd.notna(v)]
    if not missing:
        value = sum(present) / len(present)
    elif track.missing_family == "zero":
        value = sum(present) / len(track.families)
    elif track.missing_family == "mean-of-present" and present:
        value = sum(present) / len(present)
    else:
        value = float("nan")
    flag = f"missing {', '.join(missing)} ({track.missing_family})" if missing else ""
    return dict(
        team=team, task=task, value=value, n_models=len(present), missing_families=", ".join(missing), flag=flag
    )
