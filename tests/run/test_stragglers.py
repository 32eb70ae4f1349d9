"""Straggler copies on a real local Ray: two workers, one model far slower than the other.

Model `slow` (a random llama of about 85M parameters) and model `fast` (the tiny one) get the same two
gsm8k shards each; with the queue depth 2 the scheduler gives w0 both `slow` shards and w1 both `fast`
ones, so nothing is pending once they start. w1 is done with `fast` seconds before w0 is with `slow`
(~35x the compute per token), goes idle and copies `slow`'s queued shards (load_cost 0: always worth it).
Whichever copy finishes first is recorded, the other dropped. Against the same run without copies
(load_cost=None): every shard is recorded exactly once and every row is identical.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from _runtime import short_home, write_config

from evalfleet.demo.tiny import build_tiny_model
from evalfleet.plan.prepare import prepare
from evalfleet.run.driver import run_shards
from evalfleet.spec.config import load_config
from evalfleet.store.results import ResultStore

pytestmark = pytest.mark.slow
ROWS = ["task", "model", "item_id", "sample", "prompt_hash", "output", "n_output_tokens", "extracted", "score", "error"]


@pytest.fixture(scope="module")
def config(tmp_path_factory, tiny_models, shared_data):
    base = tmp_path_factory.mktemp("stragglers")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EVALFLEET_HOME", str(short_home(base / "home")))
        slow = build_tiny_model(base / "slow", family="llama", seed=3, hidden=768, layers=12, heads=12)
        fast = Path(shutil.copytree(tiny_models["llama"], base / "fast"))
        extra = {"tasks": ["gsm8k"], "limit": 4, "shard_size": 2, "max_new_tokens": 64, "in_flight": 2}
        pairs = (("slow", slow), ("fast", fast))
        teams = [{"team": t, "models": [{"path": str(p), "family": "llama"}]} for t, p in pairs]
        yield write_config(base / "run.yaml", {}, shared_data, raw_models=teams, extra=extra)


def run(config: Path, results: Path, load_cost: float | None):
    """run_shards on 2 workers; (records by item, raw manifest lines, run-log events)."""
    cfg = replace(load_config(config, results=str(results)), workers=2)
    store = ResultStore(cfg.results)
    prep = prepare(cfg, store)
    assert [s.model.id.split("--")[0] for s in prep.shards] == ["slow", "slow", "fast", "fast"]
    summary = run_shards(
        prep.shards, prep.items, store, batch_size=cfg.batch_size, workers=2, in_flight=2, load_cost=load_cost
    )
    assert summary.run == 4 and not summary.failed and summary.retries == 0
    records = store.read_records()[ROWS].sort_values(["model", "item_id", "sample"]).reset_index(drop=True)
    manifest = (results / "manifest.jsonl").read_text().splitlines()
    events = [json.loads(line) for log in (results / "runs").glob("*.jsonl") for line in log.read_text().splitlines()]
    return records, [json.loads(line) for line in manifest], events


def test_straggler_copies_record_each_shard_once_with_the_rows_of_a_run_without_copies(ray_session, config, tmp_path):
    records, manifest, events = run(config, tmp_path / "copies", load_cost=0.0)
    reference, ref_manifest, ref_events = run(config, tmp_path / "reference", load_cost=None)

    copies = [e for e in events if e["event"] == "shard_copy"]
    assert copies and {(e["model"], e["worker"]) for e in copies} == {("slow--llama", "w1")}
    assert not [e for e in ref_events if e["event"] == "shard_copy"]

    keys = [e["fingerprint"] for e in manifest]
    assert len(keys) == 4 and sorted(keys) == sorted(e["fingerprint"] for e in ref_manifest)
    done = [e["fingerprint"] for e in events if e["event"] == "shard_done"]
    assert sorted(done) == sorted(keys)  # the copy finishing second was dropped, not written

    assert len(records) == 8 and records.equals(reference)
    assert (records["n_output_tokens"] > 0).all()
