"""The explorer's routes through Starlette's TestClient on a synthetic results root (real shard files written
through ResultStore.write_shard): leaderboard with coverage, task, filtered items, one item with its prompt
checked, comparisons (two models, one model across runs), the token gate, live refresh, the static export
with holdout items withheld."""

from __future__ import annotations

import argparse
import html
import json
import re

import pyarrow as pa
import pytest
from _explorer import write_store
from starlette.testclient import TestClient

from evalfleet.cli import main as cli
from evalfleet.errors import EvalfleetError
from evalfleet.explore.app import create_app
from evalfleet.explore.catalog import Catalog
from evalfleet.explore.links import slug, unslug
from evalfleet.explore.live import LiveResults
from evalfleet.explore.pages.item import loglik_table
from evalfleet.explore.prompt import Prompts
from evalfleet.explore.publish import items_published
from evalfleet.explore.runlog import progress
from evalfleet.explore.site import export_site
from evalfleet.spec.edition import load_edition
from evalfleet.spec.taskspec import load_task
from evalfleet.store.environment import with_environment
from evalfleet.store.results import RECORD_SCHEMA, ResultStore
from evalfleet.types import Item, ModelRef, Shard

MODEL = "team0--phi-2"
ERRORED = "team1--phi-2"  # its item 0001 has an error


@pytest.fixture(scope="module")
def root(tmp_path_factory, shared_data):
    base = tmp_path_factory.mktemp("explorer")
    write_store(base / "res", shared_data, teams=3, n_items=6, run_id="r1")
    return base / "res"


@pytest.fixture(scope="module")
def client(root):
    with TestClient(create_app(str(root))) as c:
        yield c


def test_slugs_round_trip_and_never_split_a_path():
    for name in ["edge_probe:kit", "arabic/0001", "team0--phi-2", "..", "ü x", "50%~"]:
        assert unslug(slug(name)) == name
        assert re.fullmatch(r"[A-Za-z0-9_~-]+", slug(name))


def test_leaderboard_shows_views_coverage_and_links_cells_to_tasks(client):
    r = client.get("/index.html")
    assert r.status_code == 200
    assert "Team score per task" in r.text and "Leaderboard (rank points)" in r.text
    assert "data-scored='108' data-planned='108'" in r.text  # 9 models x 2 tasks x 6 items
    assert "badge final" in r.text and "Provisional until complete" not in r.text
    assert 'href="tasks/gsm8k.html#team-team0"' in r.text
    assert client.get("/", follow_redirects=False).status_code in (302, 307)


def test_served_report_links_each_task_cell_to_the_explorer(client):
    r = client.get("/report.html")
    assert r.status_code == 200 and '<img class="plot"' in r.text
    assert '<a href="tasks/gsm8k.html#team-team0">' in r.text
    assert '<a href="tasks/commonsenseqa.html#team-team2">' in r.text


def test_task_page_lists_every_model_with_coverage_and_errors(client):
    r = client.get("/tasks/gsm8k.html")
    assert r.status_code == 200
    rows = re.findall(r'<a href="../items/gsm8k/([^"]+)\.html">', r.text)
    assert len(rows) == 9 and MODEL in rows
    assert 'id="team-team1"' in r.text and "6 / 6" in r.text
    assert client.get("/tasks/nosuchtask.html").status_code == 404


def test_items_filters_search_and_links(client):
    base = f"/items/gsm8k/{ERRORED}.html"
    every = client.get(base).text
    assert 'data-total="6" data-kept="6"' in every
    errors = client.get(base, params={"verdict": "error"}).text
    assert 'data-kept="1"' in errors and "out of memory" in errors
    assert f'href="../../item/gsm8k/{ERRORED}/0001.html"' in errors
    right = client.get(base, params={"verdict": "right"}).text
    wrong = client.get(base, params={"verdict": "wrong"}).text
    kept = [int(re.search(r'data-kept="(\d+)"', t).group(1)) for t in (right, wrong)]
    assert sum(kept) == 5
    found = client.get(base, params={"q": "ABOUT ITEM 0003"}).text
    assert 'data-kept="1"' in found and "0003" in found
    odd = client.get(base, params={"subset": "odd"}).text
    assert 'data-kept="3"' in odd


def test_item_page_shows_the_prompt_as_sent_and_everything_recorded(client, root):
    r = client.get(f"/item/gsm8k/{MODEL}/0001.html")
    assert r.status_code == 200
    assert "data-match='yes'" in r.text  # prompt rendered again has the recorded hash
    row = ResultStore(str(root)).read_records(["gsm8k"]).query("model == @MODEL and item_id == '0001'").iloc[0]
    assert row["output"] in r.text and f"<code id='extracted'>{row['extracted']}</code>" in r.text
    assert "Question:" in r.text  # the prompt itself
    assert "synthetic" in r.text and "gsm8k-team0--phi-2-r1" in r.text  # environment record, fingerprint
    assert '"accuracy": 1.0' in html.unescape(r.text)
    assert client.get(f"/item/gsm8k/{MODEL}/nope.html").status_code == 404


def test_log_likelihoods_per_choice_with_the_chosen_one_marked():
    row = {
        "logliks": [-3.5, -1.25],
        "loglik_tokens": [2, 3],
        "loglik_context_tokens": [30, 30],
        "loglik_greedy": [False, True],
        "extracted": "1",
        "output": "no",
    }
    text = loglik_table(row, Item("q1", (), reference="1", choices=("yes", "no")))
    assert "-1.2500" in text and "1 ✓" in text and "<td>no</td>" in text and "0 ✓" not in text


def test_a_changed_prompt_is_reported_not_shown_as_sent(root):
    catalog = Catalog(ResultStore(str(root)).load_run_config())
    check = Prompts(catalog).check("gsm8k", MODEL, "0001", "base", "0" * 16)
    assert check.matches is False and "not the prompt that was sent" in check.note
    ok = Prompts(catalog).check("gsm8k", MODEL, "0001", "base", check.rendered_hash)
    assert ok.matches is True


def test_compare_two_models_shows_where_they_differ(client):
    r = client.get("/compare/gsm8k.html", params={"a": MODEL, "b": "team0--llama-3-8b"})
    assert r.status_code == 200
    m = re.search(r'data-items="(\d+)" data-differ="(\d+)"', r.text)
    assert m and int(m.group(1)) == 6 and 0 < int(m.group(2)) <= 6
    assert r.text.count("class='side'") == int(m.group(2))
    same = client.get("/compare/gsm8k.html", params={"a": MODEL, "b": MODEL})
    assert 'data-differ="0"' in same.text


def test_compare_one_model_with_itself_across_runs(tmp_path, shared_data):
    store = write_store(tmp_path / "res", shared_data, teams=1, n_items=6, tasks=("gsm8k",), run_id="r1")
    spec, ref = load_task("gsm8k"), ModelRef(team="team0", family="phi-2", path="/ckpt/team0/phi-2")
    rows = ResultStore(str(tmp_path / "res")).read_records(["gsm8k"]).query("model == @ref.id")
    changed = rows.assign(shard="fp-r2", output=rows["output"].where(rows["item_id"] != "0002", "changed answer"))
    changed = changed.assign(metrics=[json.dumps(m) for m in changed["metrics"]])
    store.run_id = "r2"
    shard = Shard(task=spec, model=ref, index=1, item_ids=tuple(changed["item_id"]), fingerprint="fp-r2")
    table = pa.Table.from_pandas(changed, schema=RECORD_SCHEMA, preserve_index=False)
    store.write_shard(shard, with_environment(table, {"host": "second"}), 0.1)
    with TestClient(create_app(str(tmp_path / "res"))) as c:
        r = c.get("/compare/gsm8k.html", params={"a": MODEL, "b": MODEL, "ra": "r1", "rb": "r2"})
    assert 'data-differ="1"' in r.text and "changed answer" in r.text and "0002" in r.text


def test_token_is_checked_on_every_request(root):
    with TestClient(create_app(str(root), token="s3cret")) as c:
        assert c.get("/index.html").status_code == 401
        assert c.get("/index.html", headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert c.get("/index.html?token=wrong").status_code == 403
        assert c.get("/api/state.json", headers={"X-Evalfleet-Token": "s3cret"}).status_code == 200
        r = c.get("/tasks/gsm8k.html?token=s3cret&page=1", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/tasks/gsm8k.html?page=1"
        assert "evalfleet_token" in r.headers["set-cookie"] and "HttpOnly" in r.headers["set-cookie"]
        assert c.get("/tasks/gsm8k.html").status_code == 200  # the cookie now
        c.cookies.clear()
        c.cookies.set("evalfleet_token", "wrong")
        assert c.get("/tasks/gsm8k.html").status_code == 403


def test_no_write_endpoints(client):
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)("/index.html").status_code == 405


def test_serve_refuses_another_host_without_a_token(root, monkeypatch):
    from evalfleet.commands import serve

    monkeypatch.delenv(serve.TOKEN_ENV, raising=False)
    args = argparse.Namespace(results=str(root), host="0.0.0.0", port=0, token=None, data_dir=None)
    with pytest.raises(EvalfleetError, match="--token"):
        serve.main(args)


def test_live_results_follow_new_shards_and_the_run_log(tmp_path, shared_data):
    store = write_store(tmp_path / "res", shared_data, teams=1, n_items=6, tasks=("gsm8k",), run_id="r1")
    cfg = store.load_run_config()
    cfg["submissions"].append({"team": "late", "family": "phi-2", "path": "/ckpt/late"})
    store.save_run_config(cfg)
    live = LiveResults(str(tmp_path / "res"), min_interval=0)
    first = live.snapshot()
    assert first.coverage.totals() == (18, 24) and first.coverage.provisional == ("gsm8k",)
    store.run_id = None
    store.log({"event": "start", "shards": 4, "to_run": 1, "skipped": 3, "workers": 1})
    rows = store.read_records(["gsm8k"]).query("model == 'team0--phi-2'")
    late = rows.assign(model="late--phi-2", team="late", shard="fp-late")
    late = late.assign(metrics=[json.dumps(m) for m in late["metrics"]])
    ref = ModelRef(team="late", family="phi-2", path="/ckpt/late")
    shard = Shard(load_task("gsm8k"), ref, 0, tuple(late["item_id"]), "fp-late")
    store.write_shard(shard, pa.Table.from_pandas(late, schema=RECORD_SCHEMA, preserve_index=False), 0.1)
    store.log({"event": "shard_done", "fingerprint": "fp-late", "task": "gsm8k", "model": "late--phi-2"})
    second = live.snapshot(wait=True)
    assert second.stamp != first.stamp
    assert second.coverage.totals() == (24, 24) and second.coverage.provisional == ()
    assert second.progress.done == 1 and second.progress.left == 0 and second.progress.ended is None
    assert "late" in set(second.board.views[0].table["team"])


def test_holdout_items_are_not_published(tmp_path, shared_data):
    write_store(tmp_path / "res", shared_data, teams=1, n_items=3, tasks=("gsm8k", "tydiqa"), run_id="r1")
    summary = export_site(str(tmp_path / "res"), tmp_path / "site")
    site = tmp_path / "site"
    assert summary.published == ("gsm8k",) and summary.withheld == ("tydiqa",)
    assert (site / "index.html").is_file() and (site / "report.html").is_file()
    assert (site / "tasks" / "tydiqa.html").is_file() and not (site / "items" / "tydiqa").exists()
    assert not (site / "item" / "tydiqa").exists()
    assert (site / "item" / "gsm8k" / MODEL / "0001.html").is_file()
    secret = ResultStore(str(tmp_path / "res")).read_records(["tydiqa"])["output"].iloc[0]
    leaked = [p for p in site.rglob("*.html") if secret in p.read_text(encoding="utf-8")]
    assert leaked == []
    for page in site.rglob("*.html"):  # every relative link resolves inside the folder
        for href in re.findall(r'href="([^"#?]+)', page.read_text(encoding="utf-8")):
            assert (page.parent / href).resolve().is_file(), (page, href)


def test_publish_items_lists_exactly_the_published_tasks(monkeypatch):
    catalog = Catalog({"edition": "edge-llm-2024"})
    assert not items_published("tydiqa", catalog) and items_published("gsm8k", catalog)
    edition = load_edition("edge-llm-2024")
    monkeypatch.setattr(Catalog, "edition", type(edition)(**{**edition.__dict__, "raw": {"publish_items": ["tydiqa"]}}))
    assert items_published("tydiqa", catalog) and not items_published("gsm8k", catalog)


def test_commands_export_site_and_refuse_an_open_host(root, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("EVALFLEET_SERVE_TOKEN", raising=False)
    assert cli(["export-site", str(root), "--out", str(tmp_path / "site")]) == 0
    out = capsys.readouterr().out
    assert "items published: gsm8k, commonsenseqa" in out and (tmp_path / "site" / "index.html").is_file()
    assert cli(["serve", str(root), "--host", "0.0.0.0"]) == 2
    assert "give --token or set EVALFLEET_SERVE_TOKEN" in capsys.readouterr().err


def test_a_compacted_root_shows_the_same_pages(tmp_path, shared_data):
    from evalfleet.store.compaction import compact

    write_store(tmp_path / "res", shared_data, teams=2, n_items=6, run_id="r1")
    pages = ["/index.html", "/task/gsm8k.html", f"/item/gsm8k/{MODEL}/0001.html", f"/item/gsm8k/{ERRORED}/0001.html"]
    with TestClient(create_app(str(tmp_path / "res"))) as c:
        before = [c.get(p).text for p in pages]
    report = compact(ResultStore(str(tmp_path / "res")), min_files=1)
    assert report.shards == len(ResultStore(str(tmp_path / "res")).manifest()) and report.files_after == report.groups
    with TestClient(create_app(str(tmp_path / "res"))) as c:
        after = [c.get(p).text for p in pages]
    assert "compact/gsm8k/team0--phi-2/" in after[2] and ", row group 0 (#0)" in after[2]
    volatile = re.compile(r'data-stamp="[0-9a-f]{12}"|<code>(shards|compact)/[^<]+</code>(, row group 0)?')
    assert [volatile.sub("", t) for t in after] == [volatile.sub("", t) for t in before]


def test_run_progress_counts_the_shards_of_models_arriving_while_the_run_goes_on():
    events = [
        {"event": "start", "time": 100.0, "shards": 0, "to_run": 0, "skipped": 0, "workers": 0, "planned": 6},
        {"event": "model_ready", "time": 101.0, "model": "a--phi-2", "shards": 3, "to_run": 1},
        {"event": "shard_done", "time": 110.0, "fingerprint": "f1"},
        {"event": "model_ready", "time": 130.0, "model": "b--phi-2", "shards": 2, "to_run": 2},
    ]
    run = progress(events, "r1.jsonl")
    assert (run.shards, run.to_run, run.planned, run.done, run.left) == (5, 3, 6, 1, 2)
    assert run.eta(now=130.0) == 2 * 30.0  # two left at one shard per 30 s so far
    older = progress([{"event": "start", "time": 1.0, "shards": 4, "to_run": 1}], "r0.jsonl")  # a log before arrivals
    assert (older.shards, older.to_run, older.planned, older.left) == (4, 1, 4, 1)
