"""dryrun: each planned shard is stored, re-scored or run, with the components that changed named."""

from __future__ import annotations

from dataclasses import replace

from test_shards import MODEL, RAW

from evalfleet.plan.dryrun import plan_shards, reason_summary, summary
from evalfleet.plan.fingerprint import components
from evalfleet.plan.shards import RunSettings, make_shards
from evalfleet.spec.taskspec import parse_task
from evalfleet.types import Item, Message

ENV = {"libraries": {"torch": "2.13.0", "transformers": "4.57.0"}, "device": "cpu:x86_64"}


def items(n=10, answer="1"):
    return [Item(id=f"{i:04d}", messages=(Message("user", "x" * 40),), reference=answer) for i in range(n)]


def shards(spec=None, settings=None, weights="w", its=None):
    spec = spec or parse_task(RAW, name="toy")
    settings = settings or RunSettings(shard_size=4, environment=ENV)
    return make_shards(
        [spec],
        {spec.id: its or items()},
        [MODEL],
        model_fps={MODEL.id: (weights, "")},
        data_fps={spec.id: "d"},
        settings=settings,
    )


def stored(shard_list):
    """Manifest entries as the store writes them for these shards."""
    return [
        {
            "fingerprint": s.fingerprint,
            "scoring_fingerprint": s.fingerprints.scoring,
            "generation_components": components(s.fingerprints.generation_payload),
            "scoring_components": components(s.fingerprints.scoring_payload),
            "task": s.task.id,
            "model": s.model.id,
            "index": s.index,
        }
        for s in shard_list
    ]


def plans(new, old_shards):
    by_task = {new[0].task.id: {i.id: i for i in items()}}
    return plan_shards(new, by_task, stored(old_shards))


def test_nothing_stored_means_every_shard_is_new():
    got = plans(shards(), [])
    assert [(p.status, p.reasons) for p in got] == [("run", ("new",))] * 3
    assert [p.max_new_tokens for p in got] == [400, 400, 200]


def test_same_inputs_are_stored():
    assert {p.status for p in plans(shards(), shards())} == {"stored"}


def test_a_different_library_version_is_an_environment_reason():
    other = RunSettings(shard_size=4, environment={**ENV, "libraries": {**ENV["libraries"], "torch": "2.14.1"}})
    got = plans(shards(settings=other), shards())
    assert [(p.status, p.reasons) for p in got] == [("run", ("environment",))] * 3


def test_another_gpu_is_an_environment_reason():
    other = RunSettings(shard_size=4, environment={**ENV, "device": "cuda:NVIDIA H200"})
    assert {p.reasons for p in plans(shards(settings=other), shards())} == {("environment",)}


def test_new_weights_are_a_model_reason_and_a_stop_string_a_generation_reason():
    assert {p.reasons for p in plans(shards(weights="w2"), shards())} == {("model",)}
    spec = parse_task({**RAW, "generation": {"max_new_tokens": 100, "stop": ["Q:"]}}, name="toy")
    assert {p.reasons for p in plans(shards(spec=spec), shards())} == {("generation",)}


def test_a_changed_metric_or_reference_is_rescored_not_rerun():
    spec = parse_task({**RAW, "metric": "exact"}, name="toy")
    assert {(p.status, p.reasons) for p in plans(shards(spec=spec), shards())} == {("rescore", ("scorer",))}
    got = plans(shards(its=items(answer="2")), shards())
    assert {(p.status, p.reasons) for p in got} == {("rescore", ("scorer",))}


def test_changed_code_names_the_modules():
    entry, full = stored(shards()), {}
    for e, s in zip(entry, shards()):
        payload = dict(s.fingerprints.generation_payload)
        payload["code"] = {**payload["code"], "evalfleet.benchmarks.prompting": "0" * 64}
        e["generation_components"] = components(payload)
        e["fingerprint"] = "old-" + e["fingerprint"]
        full[e["fingerprint"]] = {"generation": payload}
    got = plan_shards(shards(), {"toy": {i.id: i for i in items()}}, entry, payloads=lambda e: full[e["fingerprint"]])
    assert {(p.reasons, p.code) for p in got} == {(("code",), ("evalfleet.benchmarks.prompting",))}
    assert reason_summary(got) == "3 shards to run: 3 code changed in prompting; 0 stored"


def test_summary_counts_and_estimates_time():
    got = plans(shards(), shards()[:1])
    got = [replace(p, prompt_tokens=100) if p.status == "run" else p for p in got]
    s = summary(got, tokens_per_second=50.0)
    assert (s["stored"], s["run"], s["rescore"], s["items_to_run"]) == (1, 2, 0, 6)
    assert (s["prompt_tokens"], s["max_new_tokens"]) == (200, 600)
    assert s["estimated_seconds"] == 16.0
    assert s["reasons"] == "2 shards to run: 2 new; 1 stored"
    assert summary(got, None)["estimated_seconds"] is None
