"""The HTML report rendered by headless Chromium: every plot decodes in the page and shows on screen.

Needs Debian's chromium (scripts/test-setup/40-chromium.sh). Writes the screenshots to the test's
temporary directory (path printed) so a person can look at them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KIT_HEADER = "CommonsenseQA,BIG-Bench-Hard,GSM8K,LongBench,HumanEval,CHID,TruthfulQA,Throughput,Memory-Usage"
TAB_BLUE, TAB_ORANGE = (31, 119, 180), (255, 127, 14)  # matplotlib's first two colours: bars in every plot


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.skip("chromium not installed (scripts/test-setup/40-chromium.sh)")
    return exe


def browse(html: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
        html.resolve().as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def color_pixels(img: Image.Image, rgb: tuple[int, int, int], tol: int = 12) -> int:
    px = np.asarray(img.convert("RGB"), dtype=np.int16)
    return int((np.abs(px - np.array(rgb, dtype=np.int16)) <= tol).all(axis=-1).sum())


@pytest.fixture(scope="module")
def reports(tmp_path_factory, shared_data):
    from evalfleet.pipeline import leaderboard

    base = tmp_path_factory.mktemp("browser")
    tables = base / "kit"
    tables.mkdir()
    for i, (team, mem) in enumerate([("alpha", 8000), ("beta", 1.9), ("gamma", 13000), ("delta", 6000), ("eps", 9000)]):
        (tables / f"{team}.csv").write_text(
            KIT_HEADER + f"\n{50 + i * 3},{40 + i},{45 + i * 2},{20 - i},{30 + i},{66 + i},"
            f"0.{20 + i},{10 + i * 2},{mem}\n"
        )
    edge = leaderboard("edge-llm-2024", [str(tables)], str(base / "edge"))
    helm = leaderboard(
        "llm-efficiency-2023",
        [str(shared_data / "llm-efficiency-2023" / "4090_full_ranks_final_round.json")],
        str(base / "helm"),
    )
    return {"edge": (edge, 2), "helm": (helm, 3)}


@pytest.mark.parametrize("name", ["edge", "helm"])
def test_plots_decode_in_the_page(reports, tmp_path, name):
    html, expected = reports[name]
    r = browse(html, tmp_path / "profile", "--dump-dom")
    body = re.search(r"<body[^>]*>", r.stdout)
    assert body, r.stderr[-2000:]
    assert f'data-plots="{expected}"' in body.group(0) and f'data-plots-decoded="{expected}"' in body.group(0)


@pytest.mark.parametrize("name", ["edge", "helm"])
def test_screenshot_shows_the_plots(reports, tmp_path, name):
    html, _ = reports[name]
    shot = html.parent / f"screenshot-{name}.png"
    r = browse(html, tmp_path / "profile", "--hide-scrollbars", "--window-size=1280,3200", f"--screenshot={shot}")
    assert shot.is_file(), r.stderr[-2000:]
    print(f"screenshot: {shot}")
    img = Image.open(shot)
    assert img.size == (1280, 3200)
    top = img.crop((0, 0, 1280, 200))
    assert len(top.convert("L").getcolors(256 * 256) or []) > 2  # title text drawn, not blank
    # the bar plots: matplotlib's blue and orange bars cover many pixels of the rendered page
    assert color_pixels(img, TAB_BLUE) > 3000 and color_pixels(img, TAB_ORANGE) > 1000
