"""One task's page: every model's scores (headline metric first), items scored / planned and errors, each
model linked to its items; a form to compare two models (served pages)."""

from __future__ import annotations

import pandas as pd

from evalfleet.explore.items import paged
from evalfleet.explore.links import Links, slug
from evalfleet.explore.pages.layout import page
from evalfleet.explore.pages.markup import esc, link, number, pager, select, table
from evalfleet.explore.publish import items_published
from evalfleet.explore.snapshot import Snapshot


def model_scores(snap: Snapshot, task: str) -> tuple[pd.DataFrame, list[str]]:
    """One row per model of `task` (team, model, family, coverage, errors, one column per metric), best headline
    score first; and the metric columns, headline first."""
    cov = snap.coverage.models
    rows = cov[cov["task"] == task][["team", "model", "scored", "planned", "complete"]].copy()
    recs = snap.records[snap.records["task"] == task]
    errors = recs.groupby("model")["error"].count().to_dict() if len(recs) else {}
    rows["errors"] = [int(errors.get(m, 0)) for m in rows["model"]]
    scores = snap.scores[snap.scores["task"] == task] if len(snap.scores) else snap.scores
    metrics = list(dict.fromkeys(scores["metric"])) if len(scores) else []
    head = headline(snap, task, metrics)
    metrics = ([head] if head else []) + [m for m in metrics if m != head]
    if metrics:
        wide = scores.pivot_table(index="model", columns="metric", values="value", aggfunc="first")
        rows = rows.merge(wide[metrics], left_on="model", right_index=True, how="left")
    if head:
        rows = rows.sort_values([head, "team", "model"], ascending=[False, True, True], na_position="last")
    return rows.reset_index(drop=True), metrics


def headline(snap: Snapshot, task: str, metrics: list[str]) -> str:
    """The task spec's metric when the task reports it, else the first metric ('' when none)."""
    spec = snap.catalog.plan(task).spec
    if spec is not None and spec.metric in metrics:
        return spec.metric
    return metrics[0] if metrics else ""


def render_task(snap: Snapshot, task: str, links: Links, number_: int = 1, *, items: bool = True) -> str:
    """The task page (page `number_` of its models); `items`: link each model to its item list."""
    plan = snap.catalog.plan(task)
    rows, metrics = model_scores(snap, task)
    one = paged(rows, number_)
    cells, ids, teams = [], [], set()
    for r in one.rows.to_dict("records"):
        status = ("complete", "complete") if r["complete"] else ("provisional", "partial")
        cells.append(
            [
                esc(r["team"]),
                link(links.items(task, r["model"]), r["model"]) if items else esc(r["model"]),
                (f"{r['scored']} / {r['planned']}", status[1]),
                esc(status[0]),
                str(r["errors"]),
                *[number(r[m]) for m in metrics],
            ]
        )
        ids.append(f"team-{slug(r['team'])}" if r["team"] not in teams else f"model-{slug(r['model'])}")
        teams.add(r["team"])
    spec = plan.spec
    facts = [
        ("kind", spec.kind if spec else "—"),
        ("metric", spec.metric if spec else "—"),
        ("version", spec.version if spec else "—"),
        (
            "items per model",
            f"{rows['planned'].max() if len(rows) else 0} ({snap.coverage.planned_from.get(task, '—')})",
        ),
        ("items published on export", "yes" if items_published(task, snap.catalog) else "no (holdout)"),
    ]
    if plan.problem:
        facts.append(("note", plan.problem))
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in facts)
    compare = "" if links.static else compare_form(task, list(rows["model"]), links)
    main = f"""<h1>{esc(task)}</h1>
<dl class="facts">{dl}</dl>
<h2>Scores per model</h2>
{table(["team", "model", "items", "status", "errors", *metrics], cells, klass="models", row_ids=ids)}
{pager(one, lambda n: links.task(task, n), "models")}
{compare}"""
    crumbs = [(links.index(), "Leaderboard"), (links.task(task), task)]
    return page(f"{task} — scores per model", main, links, stamp=snap.stamp, crumbs=crumbs)


def compare_form(task: str, models: list[str], links: Links) -> str:
    """Two model pickers that open the compare page."""
    options = [(m, m) for m in models]
    a = models[0] if models else ""
    b = models[1] if len(models) > 1 else a
    return f"""<h2>Compare two models</h2>
<form class="filters" id="compare-form" method="get" action="{esc(links.compare(task))}">
<label>A {select("a", options, a)}</label> <label>B {select("b", options, b)}</label>
<button type="submit">compare</button></form>"""
