"""plan: shards are fixed slices of sorted ids (independent of workers) and fingerprints track every input."""

from __future__ import annotations

from dataclasses import replace

import pytest

from evalfleet.plan.shards import RunSettings, capped, item_cost, make_shards, shard_slices
from evalfleet.spec.taskspec import parse_task
from evalfleet.types import Item, Message, ModelRef

RAW = {
    "name": "toy",
    "module": "gsm8k",
    "kind": "generate",
    "metric": "accuracy",
    "data": ["gsm8k/test.jsonl"],
    "generation": {"max_new_tokens": 100},
    "options": {"rounds": [{"role": "user", "content": "Q: {question}"}]},
}


def spec(text="a", **over):
    return parse_task({**RAW, **over}, name="toy", text=text)


def items(n):
    return [Item(id=f"{i:04d}", messages=(Message("user", "x" * 40),)) for i in range(n)]


MODEL = ModelRef(team="t", family="llama", path="/m")


def shards(spec_=None, n=10, settings=RunSettings(shard_size=4), model=MODEL, fp=("w", "")):
    s = spec_ or spec()
    return make_shards(
        [s], {s.id: items(n)}, [model], model_fps={model.id: fp}, data_fps={s.id: "d"}, settings=settings
    )


def test_slices_are_contiguous_sorted_and_limited():
    ids = ["b", "a", "d", "c", "e"]
    assert shard_slices(ids, 2) == [("a", "b"), ("c", "d"), ("e",)]
    assert shard_slices(ids, 2, limit=3) == [("a", "b"), ("c",)]


def test_shards_cover_items_once_and_do_not_depend_on_anything_but_inputs():
    a, b = shards(), shards()
    assert [s.item_ids for s in a] == [tuple(f"{i:04d}" for i in range(k, min(k + 4, 10))) for k in (0, 4, 8)]
    assert [s.fingerprint for s in a] == [s.fingerprint for s in b]
    assert len({s.fingerprint for s in a}) == 3


@pytest.mark.parametrize(
    "change",
    ["template", "version", "generation", "weights", "adapter", "dtype", "style", "backend", "batch", "items", "team"],
)
def test_fingerprint_changes_with_each_input(change):
    base = {s.index: s.fingerprint for s in shards()}
    kw = {}
    if change == "template":
        kw["spec_"] = spec(options={"rounds": [{"role": "user", "content": "Question: {question}"}]})
    elif change == "version":
        kw["spec_"] = spec(version="2")
    elif change == "generation":
        kw["spec_"] = spec(generation={"max_new_tokens": 100, "stop": ["Q:"]})
    elif change == "weights":
        kw["fp"] = ("w2", "")
    elif change == "adapter":
        kw["fp"] = ("w", "a")
    elif change == "dtype":
        kw["model"] = replace(MODEL, dtype="bfloat16")
    elif change == "style":
        kw["model"] = replace(MODEL, prompt_style="chat")
    elif change == "backend":
        kw["settings"] = RunSettings(shard_size=4, backend="vllm")
    elif change == "batch":
        kw["settings"] = RunSettings(shard_size=4, batch_size=1)
    elif change == "team":
        kw["model"] = replace(MODEL, team="u")
        kw["fp"] = ("w", "")
    if change == "items":
        changed = {s.index: s.fingerprint for s in shards(n=9)}
        assert changed[0] == base[0] and changed[2] != base[2]
        return
    if change == "team":
        s = spec()
        got = make_shards(
            [s],
            {s.id: items(10)},
            [kw["model"]],
            model_fps={kw["model"].id: ("w", "")},
            data_fps={s.id: "d"},
            settings=RunSettings(shard_size=4),
        )
    else:
        got = shards(**kw)
    assert all(g.fingerprint != base[g.index] for g in got)


def test_scoring_fields_change_only_the_scoring_fingerprint():
    base, other = shards()[0], shards(spec(metric="exact_match"))[0]
    assert other.fingerprint == base.fingerprint
    assert other.fingerprints.scoring != base.fingerprints.scoring


def test_yaml_text_alone_changes_nothing():
    assert shards(spec(text="a"))[0].fingerprints == shards(spec(text="# a comment"))[0].fingerprints


def test_batch_size_is_not_in_a_vllm_fingerprint():
    a = shards(settings=RunSettings(shard_size=4, backend="vllm", batch_size=8))
    b = shards(settings=RunSettings(shard_size=4, backend="vllm", batch_size=64))
    assert [s.fingerprint for s in a] == [s.fingerprint for s in b]


def test_cap_lowers_max_new_tokens_and_changes_fingerprint():
    s = spec()
    assert capped(s, 8).generation.max_new_tokens == 8
    assert capped(s, 500) is s and capped(s, None) is s
    assert shards(capped(s, 8))[0].fingerprint != shards(s)[0].fingerprint


def test_cost_counts_prompt_and_new_tokens():
    s = spec()
    assert item_cost(items(1)[0], s) == 40 / 4 + 100
    ll = parse_task({**RAW, "kind": "loglikelihood"}, name="toy")
    it = Item(id="0", messages=(Message("user", "x" * 40),), choices=("aaaa", "bbbbbbbb"))
    assert item_cost(it, ll) == (10 + 1) + (10 + 2)
