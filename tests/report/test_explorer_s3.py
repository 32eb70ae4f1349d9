"""The explorer on an s3:// results root (moto_server, a real S3-protocol server on localhost): a shard written
while it runs is noticed, though on object stores it changes no manifest.jsonl, only adds a manifest.d/ object."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from _explorer import write_store
from _s3 import moto_server, root_uri
from starlette.testclient import TestClient

from evalfleet.explore.app import create_app
from evalfleet.explore.live import LiveResults
from evalfleet.spec.taskspec import load_task
from evalfleet.store.results import RECORD_SCHEMA, ResultStore
from evalfleet.types import ModelRef, Shard


@pytest.fixture
def s3_root(monkeypatch) -> str:
    """An empty s3:// root on a fresh moto_server."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    with moto_server() as endpoint:
        yield root_uri(endpoint, "explore", "res")


def test_the_explorer_on_an_object_store_root_sees_a_shard_written_after_it_started(s3_root, shared_data):
    store = write_store(s3_root, shared_data, teams=1, n_items=6, tasks=("gsm8k",), run_id="r1")
    assert not store.appends  # manifest.d/ objects, no manifest.jsonl
    live = LiveResults(s3_root, min_interval=0)
    with TestClient(create_app(s3_root, live=live)) as client:
        first = client.get("/api/state.json").json()
        assert first["shards"] == 3 and ">late<" not in client.get("/index.html").text
        # a new model's shard lands: one more manifest.d/ object, nothing else in the root changes
        rows = store.read_records(["gsm8k"]).query("model == 'team0--phi-2'")
        late = rows.assign(model="late--phi-2", team="late", shard="fp-late")
        late = late.assign(metrics=[json.dumps(m) for m in late["metrics"]])
        ref = ModelRef(team="late", family="phi-2", path="/ckpt/late")
        shard = Shard(load_task("gsm8k"), ref, 0, tuple(late["item_id"]), "fp-late")
        writer = ResultStore(s3_root)
        writer.write_shard(shard, pa.Table.from_pandas(late, schema=RECORD_SCHEMA, preserve_index=False), 0.1)
        assert writer.read_text("manifest.jsonl") is None
        second = client.get("/api/state.json").json()
        assert second["shards"] == 4 and second["stamp"] != first["stamp"]
        assert ">late<" in client.get("/index.html").text  # the new team on the leaderboard
        assert live.builds == 2
        # nothing changed since: no rebuild
        assert client.get("/api/state.json").json()["stamp"] == second["stamp"] and live.builds == 2
