"""evalfleet plan against a following evalfleet run, on a real Ray with a tiny model: same shards, real counts.

References: the shards the run reports it computed, the prompt-token counts the hf backend recorded
for them, and the scores of a fresh run into another results root.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pyarrow as pa
import pytest
from _runtime import short_home, write_config

from evalfleet.cli import main as cli
from evalfleet.pipeline import plan, run
from evalfleet.plan.fingerprint import digest
from evalfleet.plan.prepare import prepare
from evalfleet.spec.config import load_config
from evalfleet.store.results import ResultStore

pytestmark = pytest.mark.slow  # three real runs on Ray: minutes on a loaded 2-core machine


@pytest.fixture()
def home(tmp_path, monkeypatch):
    home = short_home(tmp_path / "home")
    monkeypatch.setenv("EVALFLEET_HOME", str(home))
    return home


def config(tmp_path, tiny_models, shared_data, results, tasks):
    path = write_config(
        tmp_path / f"{results}-{len(tasks)}.yaml",
        {"llama": tiny_models["llama"]},
        shared_data,
        results=str(tmp_path / results),
        extra={"tasks": tasks},
    )
    return load_config(path)


def test_plan_lists_exactly_what_the_run_computes_with_the_tokenizers_counts(
    tmp_path, tiny_models, shared_data, home, ray_session, capsys
):
    assert run(config(tmp_path, tiny_models, shared_data, "res", ["gsm8k"]), progress=False) == 0
    cfg = config(tmp_path, tiny_models, shared_data, "res", ["gsm8k", "commonsenseqa"])
    report = plan(cfg)
    statuses = {(p.task, p.status) for p in report.shards}
    assert statuses == {("gsm8k", "stored"), ("commonsenseqa", "run")}
    to_run = [p for p in report.shards if p.status == "run"]
    assert len(to_run) == 3 and all(p.reasons == ("new",) for p in to_run)
    assert report.summary["run"] == 3 and report.summary["stored"] == 3
    capsys.readouterr()
    assert run(cfg, progress=False) == 0
    out = capsys.readouterr().out
    assert "3 shards to run: 3 new; 3 stored" in out
    assert "shards: 3 run, 3 already stored, 0 failed" in out
    recorded = ResultStore(cfg.results).read_records()
    csqa = recorded[recorded["task"] == "commonsenseqa"]
    # the hf backend counts each prompt's tokens as it encodes it: plan counted the same
    assert sum(p.prompt_tokens for p in to_run) == int(csqa["n_prompt_tokens"].sum()) > 0


def test_plan_json_lines_and_the_environment_record(tmp_path, tiny_models, shared_data, home, ray_session, capsys):
    cfg = config(tmp_path, tiny_models, shared_data, "res", ["gsm8k"])
    run(cfg, progress=False)
    store = ResultStore(cfg.results)
    entry = store.manifest()[0]
    env = entry["environment"]
    assert env["device"].startswith("cpu:") and env["libraries"]["torch"] and env["run_id"]
    assert env["started"] <= env["ended"] and len(env["evalfleet_source"]) == 64
    full = store.payloads(entry)
    assert set(full["generation"]) == {"model", "task", "data", "generation", "code", "environment"}
    assert digest(full["generation"]) == entry["fingerprint"]
    assert digest(full["scoring"]) == entry["scoring_fingerprint"]
    assert len(json.dumps(entry)) < 2000  # payload components are stored once, by digest, not per line
    capsys.readouterr()
    config_file = tmp_path / "res-1.yaml"
    assert cli(["plan", str(config_file), "--json", "--no-tokens"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[-1]["summary"]["stored"] == 3
    assert [(x["task"], x["index"], x["status"], x["reasons"]) for x in lines[:-1]] == [
        ("gsm8k", i, "stored", []) for i in range(3)
    ]


def test_a_changed_scorer_rescores_stored_outputs_like_a_fresh_run(
    tmp_path, tiny_models, shared_data, home, ray_session, capsys
):
    cfg = config(tmp_path, tiny_models, shared_data, "res", ["gsm8k"])
    run(cfg, progress=False)
    store = ResultStore(cfg.results)
    # what an older extractor/scorer left: other extractions and scores, another scoring fingerprint
    for shard in prepare(cfg, store).shards:
        entry = store.entry(shard.fingerprint)
        rows = store.read_shard(entry).to_pylist()
        for row in rows:
            row.update(extracted="stale", score=0.5, metrics='{"accuracy": 0.5}')
        old = replace(shard, fingerprints=replace(shard.fingerprints, scoring="0" * 64))
        store.write_shard(old, pa.Table.from_pylist(rows), 0.0, rescored_from=entry["path"])
    capsys.readouterr()
    run(cfg, progress=False)
    out = capsys.readouterr().out
    assert "0 shards to run; 3 to re-score (scorer changed, no model needed)" in out
    assert "re-scored 6 stored rows of 3 shards" in out
    assert "shards: 0 run, 3 already stored" in out
    fresh = config(tmp_path, tiny_models, shared_data, "fresh", ["gsm8k"])
    run(fresh, progress=False)
    cols = ["item_id", "output", "extracted", "score", "metrics"]
    got = ResultStore(cfg.results).read_records()[cols].sort_values("item_id").reset_index(drop=True)
    want = ResultStore(fresh.results).read_records()[cols].sort_values("item_id").reset_index(drop=True)
    assert got.equals(want) and (got["extracted"] != "stale").all()
