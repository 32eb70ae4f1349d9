"""`evalfleet serve` in a real browser: headless Chromium (Debian's, scripts/test-setup/40-chromium.sh) driven by
Playwright (scripts/test-setup/45-playwright.sh; no browser is downloaded).

- A real `evalfleet run` of three tiny models writes into the root the explorer serves: the leaderboard's
  coverage grows on the open page (refreshed in place), then a click leads from a leaderboard cell to the
  task, a model's items and one item whose output is the stored one; two teams are compared.
- Bound to 0.0.0.0, the explorer refuses a missing (401) or wrong (403) token and lets the right one in.
- On a synthetic 300-model store, every page of the paged views answers in under a second.

Screenshots go to each test's temporary directory (printed).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from _explorer import write_store
from _runtime import short_home, write_config

from evalfleet.explore.pages.compare import PER_PAGE
from evalfleet.store.results import ResultStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="scripts/test-setup/45-playwright.sh")
    if not Path(CHROMIUM).is_file():
        pytest.skip("chromium not installed (scripts/test-setup/40-chromium.sh)")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(root: Path, port: int, log: Path, *extra: str, env: dict | None = None) -> subprocess.Popen:
    """`evalfleet serve` as a subprocess, returned once it answers HTTP."""
    cmd = [sys.executable, "-m", "evalfleet", "serve", str(root), "--port", str(port), *extra]
    proc = subprocess.Popen(cmd, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env or os.environ.copy())
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/state.json", timeout=5)
            return proc
        except urllib.error.HTTPError:
            return proc  # it answers (with 401 when a token is needed)
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise AssertionError(f"evalfleet serve did not answer: {log.read_text()}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_live_leaderboard_during_a_run_then_drill_down_and_compare(tmp_path, tiny_models, shared_data, page):
    home = short_home(tmp_path / "home")
    env = {**os.environ, "EVALFLEET_HOME": str(home)}
    res = tmp_path / "res"
    extra = {"limit": 24, "max_new_tokens": 12}  # 72 shards of 2 items: they land over several seconds
    cfg = write_config(tmp_path / "finals.yaml", tiny_models, shared_data, results=str(res), extra=extra)
    port = free_port()
    server = serve(res, port, tmp_path / "serve.log", env=env)
    run = None
    try:
        base = f"http://127.0.0.1:{port}/"
        page.goto(base + "index.html")
        assert "no shard stored yet" in page.content()
        run_log = tmp_path / "run.log"
        run = subprocess.Popen(
            [sys.executable, "-m", "evalfleet", "run", str(cfg)],
            stdout=run_log.open("w"),
            stderr=subprocess.STDOUT,
            env=env,
        )
        seen: list[tuple[int, int]] = []
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            total = page.locator("#coverage-total")
            scored, planned = int(total.get_attribute("data-scored")), int(total.get_attribute("data-planned"))
            if not seen or seen[-1] != (scored, planned):
                seen.append((scored, planned))
                if 0 < scored < planned and not (tmp_path / "during.png").exists():
                    page.screenshot(path=str(tmp_path / "during.png"), full_page=True)
            finished = (
                page.locator("#run-progress").get_attribute("data-finished")
                if page.locator("#run-progress").count()
                else "0"
            )
            if run.poll() is not None and planned and scored == planned and finished == "1":
                break
            time.sleep(0.4)
        assert run.wait(timeout=60) == 0, run_log.read_text()[-3000:]
        print(f"coverage seen on the open page: {seen}; screenshots in {tmp_path}")
        planned = seen[-1][1]
        assert planned == 3 * 2 * 24 and seen[-1][0] == planned  # 3 models x (gsm8k + commonsenseqa) x 24 items
        growing = [s for s, p in seen if p == planned]
        assert growing == sorted(growing) and any(0 < s < planned for s in growing), seen
        assert int(page.locator("body").get_attribute("data-refreshes") or 0) >= 2  # swapped in place, no reload
        page.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)

        # leaderboard cell -> task -> a model's items -> one item
        page.locator("#view-averaged-three-model + div a[href^='tasks/gsm8k.html']").first.click()
        page.wait_for_url("**/tasks/gsm8k.html*")
        page.locator("table.models a[href*='team0--llama']").first.click()
        page.wait_for_url("**/items/gsm8k/team0--llama.html")
        page.screenshot(path=str(tmp_path / "items.png"), full_page=True)
        item_link = page.locator("table.items a").first
        item_id = item_link.inner_text()
        item_link.click()
        page.wait_for_url(f"**/item/gsm8k/team0--llama/{item_id}.html")
        stored = ResultStore(str(res)).read_records(["gsm8k"])
        row = stored[(stored["model"] == "team0--llama") & (stored["item_id"] == item_id)].iloc[0]
        assert page.locator("pre.output").first.text_content() == row["output"]
        assert page.locator("#extracted").first.text_content() == row["extracted"]
        assert page.locator("#prompt-check").get_attribute("data-match") == "yes"
        page.screenshot(path=str(tmp_path / "item.png"), full_page=True)

        # compare two teams on the task
        page.goto(base + "tasks/gsm8k.html")
        page.select_option("#compare-form select[name=a]", "team0--llama")
        page.select_option("#compare-form select[name=b]", "team1--qwen2")
        page.locator("#compare-form button").click()
        page.wait_for_url("**/compare/gsm8k.html?*")
        summary = page.locator("#compare-summary")
        assert summary.get_attribute("data-items") == "24"
        differ = int(summary.get_attribute("data-differ"))
        assert differ > 0 and page.locator("section.pair").count() == min(differ, PER_PAGE)
        page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
    finally:
        if run is not None and run.poll() is None:
            run.kill()
        stop(server)


def test_a_wrong_token_is_refused(tmp_path, shared_data, page):
    write_store(tmp_path / "res", shared_data, teams=2, n_items=3, tasks=("gsm8k",))
    port = free_port()
    env = {**os.environ, "EVALFLEET_SERVE_TOKEN": "s3cret"}
    server = serve(tmp_path / "res", port, tmp_path / "serve.log", "--host", "0.0.0.0", env=env)
    try:
        base = f"http://127.0.0.1:{port}/"
        assert page.goto(base + "index.html").status == 401
        assert page.goto(base + "index.html?token=wrong").status == 403
        response = page.goto(base + "index.html?token=s3cret")
        assert response.status == 200 and page.url == base + "index.html"
        assert page.goto(base + "tasks/gsm8k.html").status == 200  # the cookie set by ?token=
        page.context.clear_cookies()
        assert page.goto(base + "tasks/gsm8k.html").status == 401
    finally:
        stop(server)


def test_paging_a_300_model_final_answers_each_page_under_a_second(tmp_path, shared_data, page):
    t0 = time.perf_counter()
    write_store(tmp_path / "res", shared_data, teams=100, n_items=4, tasks=("gsm8k",))
    built = time.perf_counter() - t0
    port = free_port()
    t0 = time.perf_counter()
    server = serve(tmp_path / "res", port, tmp_path / "serve.log")
    started = time.perf_counter() - t0
    try:
        base = f"http://127.0.0.1:{port}/"
        urls = ["index.html", "index.html?page=2"] + [f"tasks/gsm8k.html?page={n}" for n in range(1, 7)]
        urls += [
            "items/gsm8k/team50--qwen2-7b.html",
            "items/gsm8k/team50--qwen2-7b.html?verdict=wrong",
            "item/gsm8k/team50--qwen2-7b/0001.html",
            "compare/gsm8k.html?a=team50--qwen2-7b&b=team99--phi-2&only=all",
        ]
        times = {}
        for url in urls:
            t0 = time.perf_counter()
            response = page.goto(base + url, wait_until="load")
            times[url] = time.perf_counter() - t0
            assert response.status == 200, url
        print(f"store of 300 models built in {built:.1f} s, server ready in {started:.1f} s; page times (s):")
        for url, seconds in times.items():
            print(f"  {seconds:6.3f}  {url}")
        assert page.goto(base + "tasks/gsm8k.html?page=6").ok
        assert page.locator(".pager").first.get_attribute("data-pages") == "6"
        slow = {u: round(s, 3) for u, s in times.items() if s >= 1.0}
        assert slow == {}
    finally:
        stop(server)
