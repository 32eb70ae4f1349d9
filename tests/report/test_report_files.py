"""Reports: per-view CSV and Parquet, the Markdown leaderboard (top 15), the HTML page with its plots."""

from __future__ import annotations

import base64
import io
import re

import pandas as pd
import pytest
from PIL import Image

from evalfleet.report import plots, write_report
from evalfleet.scoring.rules import parse_rules
from evalfleet.scoring.scoreboard import compute_scoreboard
from evalfleet.spec.edition import load_edition

FAMILIES = ("phi-2", "llama-3-8b", "qwen2-7b")
TASKS = ("commonsenseqa", "bbh", "gsm8k", "humaneval", "chid", "truthfulqa")


def edge_scores(n_teams: int = 17) -> pd.DataFrame:
    """A compression-track final: n teams x 3 families x 6 tasks + probes; team01 over 12 GB, team02 without qwen."""
    rows = []
    for i in range(1, n_teams + 1):
        team = f"team{i:02d}"
        for j, fam in enumerate(FAMILIES):
            if team == "team02" and fam == "qwen2-7b":
                continue
            model = f"{team}--{fam}"
            for k, task in enumerate(TASKS):
                metric = {"humaneval": "pass@1", "truthfulqa": "bleu_acc"}.get(task, "accuracy")
                rows.append(
                    dict(
                        team=team,
                        model=model,
                        family=fam,
                        role="submission",
                        task=task,
                        metric=metric,
                        value=float((i * 7 + j * 3 + k * 5) % 50 + 20),
                        n=100,
                    )
                )
            rows.append(
                dict(
                    team=team,
                    model=model,
                    family=fam,
                    role="submission",
                    task="edge_probe",
                    metric="throughput",
                    value=float(10 + (i * 3) % 17),
                    n=1,
                )
            )
            rows.append(
                dict(
                    team=team,
                    model=model,
                    family=fam,
                    role="submission",
                    task="edge_probe",
                    metric="memory_mb",
                    value=13000.0 if team == "team01" and fam == "llama-3-8b" else 6000.0 + j,
                    n=1,
                )
            )
    return pd.DataFrame(rows)


def pngs(html: str) -> list[Image.Image]:
    return [
        Image.open(io.BytesIO(base64.b64decode(b))) for b in re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    ]


def not_blank(img: Image.Image) -> bool:
    colors = img.convert("RGB").resize((200, 200)).getcolors(maxcolors=200 * 200)
    return colors is not None and len(colors) > 20


@pytest.fixture(scope="module")
def edge_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("edge-report")
    board = compute_scoreboard(
        edge_scores(), parse_rules(load_edition("edge-llm-2024")), track="compression", source="hand-built"
    )
    return write_report(board, out), out


def test_files_per_view(edge_report):
    html, out = edge_report
    for stem in ("averaged-three-model", "rank-points", "rank-points-detail", "scores"):
        csv = pd.read_csv(out / f"{stem}.csv")
        pq = pd.read_parquet(out / f"{stem}.parquet")
        assert len(csv) == len(pq) > 0
    board = pd.read_csv(out / "rank-points.csv")
    assert board.loc[board["team"] == "team01", "status"].item() == "disqualified"
    assert pd.isna(board.loc[board["team"] == "team01", "place"].item())


def test_markdown_top_15_with_rules_and_disqualification(edge_report):
    _, out = edge_report
    md = (out / "leaderboard.md").read_text()
    assert md.startswith("# NeurIPS 2024 Edge-Device LLM Competition — compression track")
    assert "Rules applied:" in md and "12288 MB" in md and "shared-mean" in md
    section = md.split("## Leaderboard (rank points)")[1]
    table_rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| place")]
    assert len(table_rows) == 15
    assert "_Top 15 of 16 shown" in section
    assert "- team01: peak memory 13,000 MB > limit 12,288 MB" in section
    assert "team02: missing qwen2-7b (zero)" in md


def test_html_has_decodable_plots(edge_report):
    html, _ = edge_report
    text = html.read_text()
    assert "<title>NeurIPS 2024 Edge-Device LLM Competition — compression track</title>" in text
    images = pngs(text)
    assert len(images) == 2  # per-task score bars, stacked points per team
    assert all(img.width > 300 and img.height > 150 and not_blank(img) for img in images)
    assert 'class="dq"' in text and "Rules applied" in text


def test_delta_report_plots(tmp_path):
    rows = [
        dict(team="organizers", model="base", family="llama", role="base", task=t, metric="acc", value=0.4, n=10)
        for t in ("elmb_roleplay", "elmb_reasoning", "elmb_function_calling", "elmb_chatrag")
    ]
    for i, team in enumerate(["x", "y", "z"]):
        rows += [
            dict(
                team=team,
                model=f"{team}--m",
                family="llama",
                role="submission",
                task=t,
                metric="acc",
                value=0.4 + (i - 1) * 0.02 * (k + 1),
                n=10,
            )
            for k, t in enumerate(("elmb_roleplay", "elmb_reasoning", "elmb_function_calling", "elmb_chatrag"))
        ]
    board = compute_scoreboard(pd.DataFrame(rows), parse_rules(load_edition("elmb-2025")))
    html = write_report(board, tmp_path)
    delta = pd.read_parquet(tmp_path / "delta.parquet")
    assert list(delta["team"]) == ["z", "y", "x"] and delta["grand"].iloc[0] == pytest.approx(0.02 * (1 + 2 + 3 + 4))
    assert pd.read_csv(tmp_path / "delta-leaders.csv")["leader"].tolist() == ["z"] * 4
    images = pngs(html.read_text())
    assert len(images) == 1 and not_blank(images[0])
    assert "roleplay award: z" in (tmp_path / "leaderboard.md").read_text()


def test_a_100_team_final_draws_one_heatmap_not_a_bar_panel_per_task(tmp_path):
    board = compute_scoreboard(
        edge_scores(100), parse_rules(load_edition("edge-llm-2024")), track="compression", source="hand-built"
    )
    scores, points = pngs(write_report(board, tmp_path).read_text())
    # bars: 6 panels of 100 names each, ~2 x 3,300 px tall; the heatmap names each team once
    assert 150 * 6 < scores.height < 2_500 and scores.width < 1_400 and not_blank(scores)


def test_heatmap_greys_a_missing_score():
    wide = pd.DataFrame({"team": [f"t{i}" for i in range(50)], "a": range(50), "b": [float(i) for i in range(50)]})

    def grey_pixels(frame: pd.DataFrame) -> int:
        image = Image.open(io.BytesIO(plots.task_score_bars(frame, ["a", "b"], "many teams"))).convert("RGB")
        return dict((c, n) for n, c in image.getcolors(maxcolors=image.width * image.height)).get((217, 217, 217), 0)

    missing = wide.copy()
    missing.loc[7, "b"] = float("nan")
    assert grey_pixels(missing) > grey_pixels(wide) + 100  # the one missing cell, a block of grey pixels
