"""From a task-score frame (recorded or imported) to every view of the edition: `compute_scoreboard` (pure)."""

from __future__ import annotations

import pandas as pd

from evalfleet.errors import EvalfleetError
from evalfleet.scoring.averaged import averaged_three_model
from evalfleet.scoring.delta import delta
from evalfleet.scoring.frame import check_frame, headline, resolve_tasks
from evalfleet.scoring.geometric import geometric_mean_view, metric_table
from evalfleet.scoring.helm_win_rate import helm_mean_win_rate
from evalfleet.scoring.rank_points import rank_points
from evalfleet.scoring.result import Scoreboard, ViewResult
from evalfleet.scoring.rules import ScoringRules


def compute_scoreboard(
    scores: pd.DataFrame, rules: ScoringRules, *, track: str = "", source: str = "", notes: tuple[str, ...] = ()
) -> Scoreboard:
    """Every view the rule file lists, computed from `scores` (pure)."""
    scores = check_frame(scores, source or "task scores")
    track_rules = rules.track(track)
    views: list[ViewResult] = []
    notes = list(notes)
    subs = scores[scores["role"] == "submission"]
    if subs.empty:
        raise EvalfleetError(
            "no scores of any submission to rank (nothing recorded or imported yet?)", source=source or None
        )
    teams = sorted(set(subs["team"]))
    ed = rules.edition

    if {"averaged-three-model", "rank-points"} & set(rules.views):
        open_tasks, missing = resolve_tasks(ed.tasks, subs["task"])
        holdout, missing_holdout = resolve_tasks(ed.holdout, subs["task"])
        missing += missing_holdout
        if missing:
            notes.append(f"not evaluated for any team: {', '.join(missing)} (no points awarded for them)")
        rows = headline(subs, open_tasks + holdout, rules.metrics)
        averaged = averaged_three_model(rows, track_rules, teams=teams)
        if "averaged-three-model" in rules.views:
            views.append(_averaged_view(averaged, open_tasks + holdout, track_rules.name))
        if "rank-points" in rules.views:
            views.append(_rank_points_view(subs, averaged, rules, track_rules, teams, open_tasks, holdout))
    if {"geometric-mean", "helm-mean-win-rate"} & set(rules.views):
        values, gnotes = _helm_values(subs, rules, teams)
        if "geometric-mean" in rules.views:
            board, wr, vnotes = geometric_mean_view(values, rules.geometric)
            views.append(
                ViewResult(
                    "geometric-mean",
                    "Official 2023 score (win rates, geometric mean per set)",
                    board,
                    {"win-rates": wr},
                    tuple(gnotes + vnotes),
                    rules.geometric.show_top,
                )
            )
        if "helm-mean-win-rate" in rules.views:
            board, wr = helm_mean_win_rate(values, rules.geometric)
            views.append(
                ViewResult(
                    "helm-mean-win-rate",
                    "HELM leaderboard mean win rate (not the official 2023 score)",
                    board,
                    {"win-rates": wr},
                    ("HELM formula: wins / (N-1), ties half a win, missing values skipped",),
                    rules.geometric.show_top,
                )
            )
    if "delta" in rules.views:
        rows = headline(
            scores,
            list(rules.delta.use_cases.values()),
            {t: rules.delta.metric for t in rules.delta.use_cases.values()},
        )
        board, leaders = delta(rows, rules.delta)
        base = rows.loc[rows["role"] == "base", ["team", "model"]].drop_duplicates()
        lnotes = tuple(f"base model: {r.model} (team {r.team})" for r in base.itertuples())
        lnotes += tuple(
            f"{r.use_case} award: {r.leader or 'nobody'} ({r.best_delta:+.4g})" for r in leaders.itertuples()
        )
        views.append(
            ViewResult(
                "delta",
                f"Improvement over the base model ({rules.delta.metric})",
                board,
                {"leaders": leaders},
                lnotes + _flags(board),
                rules.delta.show_top,
            )
        )
    return Scoreboard(
        edition=ed.name,
        description=ed.description,
        track=track_rules.name,
        rules=describe_rules(rules, track_rules.name),
        source=source,
        views=tuple(views),
        scores=scores,
        notes=tuple(notes),
    )


def _flags(board: pd.DataFrame) -> tuple[str, ...]:
    if "note" not in board.columns:
        return ()
    return tuple(f"{r.team}: {r.note}" for r in board.itertuples() if r.note)


def _averaged_view(averaged: pd.DataFrame, tasks: list[str], track: str) -> ViewResult:
    wide = averaged.pivot(index="team", columns="task", values="value").reindex(columns=tasks)
    wide["flags"] = averaged.groupby("team")["flag"].apply(lambda f: "; ".join(sorted({x for x in f if x})))
    wide = wide.reset_index()
    title = "Team score per task (mean of the three models)" if track == "compression" else "Team score per task"
    imported = "team score as imported"
    notes = tuple(f"{r.team}: {r.flags}" for r in wide.itertuples() if r.flags and r.flags != imported)
    as_imported = [r.team for r in wide.itertuples() if imported in r.flags]
    if as_imported:
        notes += (f"team-level scores used as imported (no per-model rows): {', '.join(as_imported)}",)
    return ViewResult("averaged-three-model", title, wide, {"long": averaged}, notes, 10**9)


def _rank_points_view(subs, averaged, rules, track_rules, teams, open_tasks, holdout) -> ViewResult:
    rp = rules.rank_points
    probe_ids, _ = resolve_tasks([rp.throughput_task], subs["task"])
    probe = subs[subs["task"].isin(probe_ids)]
    thr = probe[probe["metric"] == rp.throughput_metric].assign(task="throughput")
    thr_team = (
        averaged_three_model(thr, track_rules, teams=teams)
        if not thr.empty
        else pd.DataFrame(columns=["team", "value"])
    )
    mem = probe[probe["metric"] == rp.memory_metric].groupby("team")["value"].max()
    eff = pd.DataFrame({"team": teams})
    eff["throughput"] = eff["team"].map(thr_team.set_index("team")["value"]) if len(thr_team) else float("nan")
    eff["memory_mb"] = eff["team"].map(mem)
    board, detail = rank_points(averaged, eff, rp, tasks=open_tasks, holdout=holdout)
    board.insert(board.columns.get_loc("note"), "peak memory MB", board["team"].map(mem))
    notes = tuple(f"{r.team} ({r.status}): {r.note}" for r in board.itertuples() if r.note)
    if eff["throughput"].isna().all():
        notes = (
            f"throughput not measured for any team ({rp.throughput_task} / {rp.throughput_metric}): "
            "no throughput points",
        ) + notes
    return ViewResult(
        "rank-points", "Leaderboard (rank points)", board, {"detail": detail, "efficiency": eff}, notes, rp.show_top
    )


def _helm_values(subs: pd.DataFrame, rules: ScoringRules, teams: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """team x HELM-metric table: imported HELM rows as they are, run tasks mapped onto their scenario's first metric."""
    notes = []
    names = {m.name for s in rules.geometric.scenarios for m in s.metrics}
    parts = [subs[subs["metric"].isin(names)][["team", "metric", "value"]]]
    for scen in rules.geometric.scenarios:
        if not scen.run_task:
            continue
        run_ids, _ = resolve_tasks([scen.run_task], subs["task"])
        run = subs[subs["task"].isin(run_ids) & (subs["metric"] == scen.run_metric)]
        if run.empty:
            continue
        notes.append(
            f"{scen.name}: '{scen.metrics[0].name}' from evalfleet task {scen.run_task} "
            f"({scen.run_metric} x {scen.run_scale:g})"
        )
        parts.append(
            pd.DataFrame({"team": run["team"], "metric": scen.metrics[0].name, "value": run["value"] * scen.run_scale})
        )
    rows = pd.concat(parts, ignore_index=True)
    try:
        return metric_table(rows, teams), notes
    except ValueError as exc:
        raise EvalfleetError(
            f"{exc} (a run task and an imported table both give it?)", field="views.geometric-mean"
        ) from exc


def describe_rules(rules: ScoringRules, track: str) -> tuple[str, ...]:
    """The rules applied, one line each, for the top of every report."""
    ed = rules.edition
    lines = [f"Edition rule file: scoring/{ed.name}.yaml"]
    t = rules.tracks.get(track)
    if ed.tasks and {"averaged-three-model", "rank-points"} & set(rules.views):
        lines.append(f"Open tasks: {', '.join(ed.tasks)}; holdout: {', '.join(ed.holdout) or 'none'}")
        if t and t.families:
            lines.append(
                f"Team score per task: mean over the families {', '.join(t.families)}; "
                f"a missing family: {t.missing_family}"
            )
        else:
            lines.append("Team score per task: the team's single model")
        metrics = ", ".join(f"{k}={v}" for k, v in rules.metrics.items())
        if metrics:
            lines.append(f"Headline metrics: {metrics} (imported tables: their one number per task)")
    if rules.rank_points:
        rp = rules.rank_points
        lines.append(
            f"Points per task by place: {', '.join(f'{p:g}' for p in rp.task_points)}; "
            f"throughput ({rp.throughput_task}/{rp.throughput_metric}): "
            f"{', '.join(f'{p:g}' for p in rp.throughput_points)}"
        )
        lines.append(
            f"Disqualified: peak memory ({rp.memory_metric}) over {rp.memory_limit_mb:g} MB on any model "
            f"(no points, no place); memory not measured: {rp.missing_memory}"
        )
        tie = (
            "tied teams share the best place and split the spanned places' points equally"
            if rp.ties == "shared-mean"
            else "tied teams share the best place and each gets its points"
        )
        lines.append(f"Ties ({rp.ties}): {tie}")
    if rules.geometric and "geometric-mean" in rules.views:
        g = rules.geometric
        weights = ", ".join(f"{k} {v:.4g}" for k, v in g.weights.items())
        lines.append(
            "Official 2023 scorer: per metric calc_win_rate (wins / N, ties 1/(c(c-1)) each), missing value "
            f"{g.missing_value:g} ({g.missing_value_lower_is_better:g} if lower is better), mean per scenario, "
            f"geometric mean per set; Score_full weights: {weights}"
        )
    if rules.delta:
        cases = ", ".join(f"{u}={t}" for u, t in rules.delta.use_cases.items())
        lines.append(f"Delta per use case = submission - base ({rules.delta.metric}); grand = sum; use cases: {cases}")
    return tuple(lines)
