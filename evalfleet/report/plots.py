"""The report's figures, drawn with matplotlib (Agg) and returned as PNG bytes.

One function per view kind: per-task score bars, stacked points per team, the 2023 scores and
scenario win-rate heatmap, delta bars per use case. Each takes the view's own table. With a
Confidence: error bars of every task value and total (`interval_bars`) and place intervals
(`place_intervals`), from the confidence and rank-stability rows of one view.
"""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

COLORS = plt.get_cmap("tab10").colors + plt.get_cmap("Dark2").colors


def _short(name: str, width: int = 34) -> str:
    return name if len(name) <= width else name[: width - 1] + "…"


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return buf.getvalue()


def _task_grid(n_tasks: int, panel_height: float):
    """A figure of up to three panels per row, one per task."""
    ncols = min(3, max(1, n_tasks))
    nrows = math.ceil(n_tasks / ncols) or 1
    return plt.subplots(nrows, ncols, figsize=(4.6 * ncols, panel_height * nrows), squeeze=False)


def _style_panel(ax, task: str) -> None:
    ax.set_title(task, fontsize=10, fontweight="bold")
    ax.tick_params(axis="y", labelsize=7)
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="x", alpha=0.3)


def _finish_grid(fig, axes, n_tasks: int, title: str) -> bytes:
    """Unused panels hidden, the title set, the figure as PNG bytes."""
    for ax in list(axes.flat)[n_tasks:]:
        ax.axis("off")
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return _png(fig)


MANY_TEAMS = 40
"""Above this many teams the per-task scores are one heatmap (`task_score_heatmap`): a bar panel per task
would draw every team's name once per task (a 100-team final: 900 labels, ~10 s and a 10,000-pixel image)."""


def task_score_bars(wide: pd.DataFrame, tasks: list[str], title: str) -> bytes:
    """One panel per task: horizontal bars of each team's score, best on top (missing shown as 'no score');
    above MANY_TEAMS teams, `task_score_heatmap`."""
    tasks = [t for t in tasks if t in wide.columns]
    teams = list(wide["team"])
    if len(teams) > MANY_TEAMS:
        return task_score_heatmap(wide, tasks, title)
    fig, axes = _task_grid(len(tasks), max(2.2, 0.32 * len(teams) + 1.0))
    color = {t: COLORS[i % len(COLORS)] for i, t in enumerate(teams)}
    for ax, task in zip(axes.flat, tasks):
        col = wide.set_index("team")[task].sort_values(ascending=True, na_position="first")
        vals = col.fillna(0.0)
        ax.barh([_short(t, 22) for t in col.index], vals, color=[color[t] for t in col.index])
        for y, (team, v) in enumerate(col.items()):
            ax.text(vals.iloc[y], y, " no score" if pd.isna(v) else f" {v:.3g}", va="center", fontsize=7, color="#333")
        _style_panel(ax, task)
        ax.margins(x=0.18)
    return _finish_grid(fig, axes, len(tasks), title)


def task_score_heatmap(wide: pd.DataFrame, tasks: list[str], title: str) -> bytes:
    """One row per team (best mean place over the tasks on top), one column per task, each cell coloured by the
    team's score scaled to that task's lowest..highest score (missing: grey); each team's name drawn once."""
    scores = wide.set_index("team")[tasks].astype(float)
    order = scores.rank(ascending=False).mean(axis=1).sort_values(kind="stable").index
    scores = scores.loc[order]
    low, high = scores.min(), scores.max()
    scaled = (scores - low) / (high - low).where(high > low, 1.0)
    fig, ax = plt.subplots(figsize=(2.8 + 0.75 * len(tasks), 1.6 + 0.13 * len(scores)))
    cmap = plt.get_cmap("viridis").with_extremes(bad="#d9d9d9")
    image = ax.imshow(np.ma.masked_invalid(scaled.to_numpy()), aspect="auto", cmap=cmap, vmin=0.0, vmax=1.0)
    ax.set_yticks(range(len(scores)), [_short(t, 28) for t in scores.index], fontsize=6)
    ax.set_xticks(range(len(tasks)), tasks, fontsize=8, rotation=40, ha="right")
    ax.xaxis.set_ticks_position("top")
    plt.setp(ax.get_xticklabels(), rotation=40, ha="left")
    bar = fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label("score within the task's range (lowest 0, highest 1; grey: no score)", fontsize=8)
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return _png(fig)


def stacked_points(board: pd.DataFrame, title: str) -> bytes:
    """Stacked horizontal bars: each eligible team's points per task, ordered by total (winner on top)."""
    ok = board[board["status"] == "ok"]
    cols = [c for c in board.columns if str(c).endswith(" pts")]
    ok = ok.iloc[::-1]
    fig, ax = plt.subplots(figsize=(10, max(2.5, 0.38 * len(ok) + 1.4)))
    left = pd.Series(0.0, index=ok.index)
    labels = [f"{int(p) if pd.notna(p) else '-'}. {_short(t)}" for p, t in zip(ok["place"], ok["team"])]
    for i, col in enumerate(cols):
        ax.barh(
            labels, ok[col], left=left, color=COLORS[i % len(COLORS)], label=col[:-4], edgecolor="white", linewidth=0.5
        )
        left = left + ok[col].fillna(0)
    for y, total in enumerate(ok["total"]):
        ax.text(total, y, f" {total:g}", va="center", fontsize=8, fontweight="bold")
    ax.set_xlabel("points")
    ax.set_title(title, fontsize=12)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False, title="task", title_fontsize=8)
    ax.margins(x=0.08)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def set_scores(board: pd.DataFrame, score_cols: list[str], title: str) -> bytes:
    """Grouped horizontal bars of each team's set scores (e.g. Score_open, Score_hidden, Score_full)."""
    rows = board.iloc[::-1]
    fig, ax = plt.subplots(figsize=(10, max(2.5, 0.55 * len(rows) + 1.2)))
    height = 0.8 / len(score_cols)
    for i, col in enumerate(score_cols):
        ys = [y + (i - (len(score_cols) - 1) / 2) * height for y in range(len(rows))]
        ax.barh(ys, rows[col], height=height, color=COLORS[i], label=col)
    ax.set_yticks(
        range(len(rows)),
        [f"{int(p) if pd.notna(p) else '-'}. {_short(t, 44)}" for p, t in zip(rows["place"], rows["team"])],
        fontsize=8,
    )
    ax.set_xlim(0, 1)
    ax.set_title(title, fontsize=12)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def heatmap(board: pd.DataFrame, cols: list[str], title: str) -> bytes:
    """Teams x columns heatmap (values in [0, 1]) with the values written in the cells."""
    data = board[cols].astype(float)
    fig, ax = plt.subplots(figsize=(1.0 * len(cols) + 4, 0.42 * len(board) + 1.8))
    im = ax.imshow(data.to_numpy(), cmap="viridis", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(cols)), [c.replace(" MWR", "") for c in cols], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(board)), [_short(t, 40) for t in board["team"]], fontsize=8)
    for (y, x), v in pd.DataFrame(data.to_numpy()).stack().items():
        ax.text(x, y, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.6 else "black")
    fig.colorbar(im, ax=ax, fraction=0.03)
    ax.set_title(title, fontsize=12)
    fig.tight_layout()
    return _png(fig)


def delta_bars(board: pd.DataFrame, use_cases: list[str], title: str) -> bytes:
    """One panel per use case: each team's delta over the base model (green gain, red loss)."""
    ncols = min(4, len(use_cases))
    fig, axes = plt.subplots(
        1, ncols, figsize=(3.8 * ncols, max(2.5, 0.35 * len(board) + 1.2)), squeeze=False, sharey=True
    )
    teams = list(board["team"])[::-1]
    for ax, case in zip(axes.flat, use_cases):
        vals = board.set_index("team")[case].reindex(teams)
        ax.barh(
            [_short(t, 24) for t in teams],
            vals.fillna(0),
            color=["#2a9d55" if v >= 0 else "#c8453c" for v in vals.fillna(0)],
        )
        for y, v in enumerate(vals):
            ax.text(
                0 if pd.isna(v) else v,
                y,
                " no score" if pd.isna(v) else f" {v:+.3g} ",
                va="center",
                fontsize=7,
                ha="left" if pd.isna(v) or v >= 0 else "right",
                color="#333",
            )
        ax.axvline(0, color="#333", linewidth=0.8)
        ax.set_title(case, fontsize=10, fontweight="bold")
        ax.margins(x=0.25)
        ax.tick_params(axis="y", labelsize=8)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(title, fontsize=12)
    fig.tight_layout()
    return _png(fig)


def interval_bars(rows: pd.DataFrame, title: str) -> bytes:
    """One panel per task: each team's value as a dot with its interval as an error bar, best on top.

    rows: confidence.csv rows of one view (team, task, value, ci_low, ci_high); no interval: dot only.
    """
    tasks = list(dict.fromkeys(rows["task"]))
    fig, axes = _task_grid(len(tasks), max(2.2, 0.3 * rows["team"].nunique() + 1.0))
    for ax, task in zip(axes.flat, tasks):
        mine = rows[rows["task"] == task].sort_values("value", ascending=True, na_position="first")
        ys = range(len(mine))
        low = (mine["value"] - mine["ci_low"]).clip(lower=0).fillna(0)
        high = (mine["ci_high"] - mine["value"]).clip(lower=0).fillna(0)
        ax.errorbar(mine["value"], ys, xerr=[low, high], fmt="o", color=COLORS[0], ecolor="#555", capsize=3, ms=4)
        ax.set_yticks(list(ys), [_short(t, 22) for t in mine["team"]])
        _style_panel(ax, task)
    return _finish_grid(fig, axes, len(tasks), title)


def place_intervals(stability: pd.DataFrame, title: str) -> bytes:
    """Each placed team's place interval (bar) and official place (dot), best on top; orange: not separable
    from the next place."""
    from_legend = (
        "bar: place interval over the bootstrap replicates; dot: official place; orange: not separable from the next"
    )
    rows = stability[stability["place"].notna()].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.32 * len(rows) + 1.2)))
    for y, r in rows.iterrows():
        sep = r["separable_from_next"]
        color = COLORS[1] if not pd.isna(sep) and not bool(sep) else COLORS[0]
        if pd.notna(r["place_low"]):
            span = [r["place_low"] - 0.3, r["place_high"] + 0.3]
            ax.plot(span, [y, y], color=color, linewidth=6, alpha=0.55, solid_capstyle="round")
        ax.plot([r["place"]], [y], "o", color="#222", ms=4)
    ax.set_yticks(
        range(len(rows)), [f"{p:.0f}. {_short(t, 30)}" for p, t in zip(rows["place"], rows["team"])], fontsize=8
    )
    ax.invert_yaxis()
    ax.set_xlabel(f"place ({from_legend})", fontsize=8)
    ax.set_xlim(0.3, max(2, len(rows)) + 0.7)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title, fontsize=12)
    fig.tight_layout()
    return _png(fig)
