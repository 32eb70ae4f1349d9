"""Leaderboard confidence: the paired bootstrap over items through each edition's rules.

References are closed forms (the binomial standard error, scipy's exact binomial test), known truths of
simulated finals (coverage, a team better everywhere), the benchmark modules' own aggregate on the
resampled rows, and constructed cases (two teams differing in one item) — never this code's own output.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from _store import subset_names, write_shard
from scipy.stats import binomtest

from evalfleet import benchmarks
from evalfleet.errors import EvalfleetError
from evalfleet.pipeline import score as score_results
from evalfleet.scoring.confidence import compute_confidence
from evalfleet.scoring.confidence_draws import (
    draw_task,
    replicate_aggregate,
    resample_counts,
    task_stream,
    weighted_values,
)
from evalfleet.scoring.confidence_items import item_matrix
from evalfleet.scoring.confidence_rules import ConfidenceSettings, parse_confidence
from evalfleet.scoring.paired_tests import paired_test, sign_test_p
from evalfleet.scoring.rules import parse_rules
from evalfleet.scoring.scoreboard import compute_scoreboard
from evalfleet.scoring.task_scores import task_scores
from evalfleet.spec.edition import Edition, load_edition
from evalfleet.spec.taskspec import load_task
from evalfleet.store.results import ResultStore
from evalfleet.types import ModelRef

FAMILIES = ("phi-2", "llama-3-8b", "qwen2-7b")
EDGE = parse_rules(load_edition("edge-llm-2024"))
FILES = ("confidence", "rank-stability", "paired-tests")


def rows_of(
    task: str, model: str, metrics: list[dict], *, team: str = "", family: str = "x", subsets=None, role="submission"
):
    """Store-shaped records of one model on one task (one row per item, sample 0)."""
    n = len(metrics)
    return pd.DataFrame(
        {
            "task": task,
            "model": model,
            "team": team or model,
            "family": family,
            "role": role,
            "item_id": [f"{i:05d}" for i in range(n)],
            "subset": subsets if subsets is not None else [""] * n,
            "sample": 0,
            "metrics": metrics,
            "error": None,
            "score": 0.0,
        }
    )


def team_records(team: str, task_p: dict[str, float], n: int, rng, *, families=FAMILIES, probe: float = 10.0):
    """A compression team: three models answering n items of each task with accuracy p (0-1 items)."""
    parts = []
    for fam in families:
        model = f"{team}--{fam}"
        for task, p in task_p.items():
            metrics = [{"accuracy": float(x)} for x in rng.random(n) < p]
            parts.append(rows_of(task, model, metrics, team=team, family=fam))
        parts.append(rows_of("edge_probe", model, [{"throughput": probe, "memory_mb": 6000.0}], team=team, family=fam))
    return parts


def confidence_of(records: pd.DataFrame, rules=EDGE, *, track="compression", replicates=1000):
    board = compute_scoreboard(task_scores(records), rules, track=track)
    return compute_confidence(board, rules, records, ConfidenceSettings(replicates=replicates))


# ---- the bootstrap itself --------------------------------------------------------------------------


def test_bootstrap_se_of_a_plain_mean_is_the_closed_form():
    rng = np.random.default_rng(1)
    n = 2000
    rows = rows_of("gsm8k", "m", [{"accuracy": float(x)} for x in rng.random(n) < 0.3])
    p = np.mean([m["accuracy"] for m in rows["metrics"]])
    td = draw_task(rows, "accuracy", pd.Series({"m": 100 * p}), replicates=2000, seed=7)
    assert td.weighted and td.point[0] == pytest.approx(100 * p)
    se = td.draws[:, 0].std(ddof=1) / 100
    assert se == pytest.approx(math.sqrt(p * (1 - p) / n), rel=0.05)


def test_interval_coverage_over_400_simulated_finals():
    """A team of three models with true accuracies .55/.6/.7 on 300 items, 400 independent finals: the 95%
    interval of the team score (mean of the three) covers the true 61.67 in 93-97% of them (over 2,000
    finals of the same scheme: 95.1%)."""
    true_p = np.array([0.55, 0.60, 0.70])
    truth = 100 * true_p.mean()
    template = pd.concat([rows_of("gsm8k", f"m{j}", [{"accuracy": 0.0}] * 300) for j in range(3)])
    m = item_matrix(template, load_task("gsm8k"), "accuracy")
    covered = 0
    for final in range(400):
        answers = (np.random.default_rng(10_000 + final).random((300, 3)) < true_p).astype(float)
        counts = resample_counts(m.bounds, 1000, task_stream(final, "gsm8k"))
        team = weighted_values(replace(m, num=answers), counts).mean(axis=1)
        low, high = np.quantile(team, [0.025, 0.975])
        covered += low <= truth <= high
    assert 0.93 <= covered / 400 <= 0.97, covered / 400


@pytest.mark.parametrize(
    "task,metric,make",
    [
        ("bbh", "accuracy", lambda rng, n: {"accuracy": float(rng.random() < 0.5)}),
        ("chid", "accuracy", lambda rng, n: {"accuracy": float(rng.random() < 0.5)}),
        ("longbench", "score", lambda rng, n: {"score": float(rng.random())}),
        ("tydiqa", "f1", lambda rng, n: {"exact_match": float(rng.random() < 0.3), "f1": float(rng.random())}),
        (
            "truthfulqa",
            "bleu_acc",
            lambda rng, n: {
                "counted": float(rng.random() < 0.9),
                "bleu_max": 1.0,
                "bleu_diff": 0.0,
                "bleu_acc": float(rng.random() < 0.4),
            },
        ),
        ("humaneval", "pass@1", lambda rng, n: {"pass@1": float(rng.random() < 0.5)}),
        ("commonsenseqa", "accuracy", lambda rng, n: {"accuracy": float(rng.random() < 0.5)}),
    ],
)
def test_weighted_sums_equal_the_modules_aggregate_on_resampled_rows(task, metric, make):
    """Per module: the fast path's replicates equal the module's own aggregate run on the same resampled rows
    (strata, subset weights, counted rows, rounding), for the recorded score and for 5 replicates."""
    spec = load_task(task)
    rng = np.random.default_rng(3)
    n = 60
    subsets = subset_names(task, n)
    parts = []
    for model, samples in (("a", 1), ("b", 1), ("c", 3 if task == "humaneval" else 1)):
        for s in range(samples):
            part = rows_of(task, model, [make(rng, n) for _ in range(n)], subsets=subsets)
            parts.append(part.assign(sample=s))
    rows = pd.concat(parts, ignore_index=True)
    recorded = task_scores(rows)
    recorded = recorded[recorded["metric"] == metric].set_index("model")["value"]
    td = draw_task(rows, metric, recorded, replicates=5, seed=11)
    assert td.weighted, f"{task}: the weighted-sum form did not reproduce the recorded score"
    np.testing.assert_allclose(td.point, recorded.reindex(list(td.matrix.models)).to_numpy(), rtol=1e-12)
    slow = item_matrix(rows, spec, metric, weighted=False)
    counts = resample_counts(td.matrix.bounds, 5, task_stream(11, spec.id))
    np.testing.assert_allclose(td.draws, replicate_aggregate(slow, counts), rtol=1e-9, atol=1e-9)


def test_a_module_without_a_weighted_form_runs_its_own_aggregate_per_replicate():
    """T-Eval's score mixes subsets' metrics and rounds the review mean: each replicate is the module's own
    aggregate on the resampled rows; the recorded score is reproduced exactly."""
    rng = np.random.default_rng(12)
    plan = {"precision": 0.5, "recall": 0.5, "parse_rate": 1.0}
    parts = []
    for model in ("a", "b"):
        metrics = [dict(plan, f1_score=float(rng.random())) for _ in range(20)]
        metrics += [{"parse_rate": 1.0, "review_quality": float(rng.random() < 0.6)} for _ in range(20)]
        parts.append(rows_of("teval", model, metrics, subsets=["plan_str_v1"] * 20 + ["review_str_v1"] * 20))
    rows = pd.concat(parts, ignore_index=True)
    recorded = task_scores(rows)
    recorded = recorded[recorded["metric"] == "score"].set_index("model")["value"]
    td = draw_task(rows, "score", recorded, replicates=20, seed=1)
    assert not td.weighted
    np.testing.assert_allclose(td.point, recorded.reindex(["a", "b"]).to_numpy())
    assert np.isfinite(td.draws).all() and td.draws.std(axis=0).min() > 0


# ---- exact paired tests ------------------------------------------------------------------------------


def test_exact_paired_tests_equal_scipy_binomtest():
    for n in (1, 2, 5, 10, 31, 100, 999):
        for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
            assert sign_test_p(k, n) == pytest.approx(binomtest(k, n, 0.5).pvalue, rel=1e-9), (k, n)
    rng = np.random.default_rng(5)
    a = (rng.random(400) < 0.6).astype(float)
    b = np.where(rng.random(400) < 0.8, a, 1 - a)
    test = paired_test(a, b)
    a_only, b_only = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    assert (test["team_better"], test["next_better"]) == (a_only, b_only)
    assert test["p_value"] == pytest.approx(binomtest(a_only, a_only + b_only, 0.5).pvalue, rel=1e-9)
    assert test["method"].startswith("McNemar")


# ---- through the edition's views -------------------------------------------------------------------


def test_two_teams_differing_in_a_single_item_are_not_separable():
    rng = np.random.default_rng(2)
    a = pd.concat(team_records("A", {"gsm8k": 0.6, "commonsenseqa": 0.5}, 150, rng), ignore_index=True)
    b = a.assign(team="B", model=a["model"].str.replace("A--", "B--"))
    flip = int(np.flatnonzero((b["task"] == "gsm8k") & (b["model"] == "B--phi-2"))[0])
    metrics = b["metrics"].tolist()
    metrics[flip] = {"accuracy": 1.0 - metrics[flip]["accuracy"]}
    b["metrics"] = metrics
    conf = confidence_of(pd.concat([a, b], ignore_index=True))
    stab = conf.stability.set_index(["view", "team"])
    first = conf.stability[conf.stability["view"] == "rank-points"].iloc[0]
    assert first["place"] == 1 and not first["separable_from_next"]
    assert not stab.loc[("averaged-three-model/gsm8k", first["team"]), "separable_from_next"]
    test = conf.tests[(conf.tests["view"] == "rank-points") & (conf.tests["task"] == "gsm8k")].iloc[0]
    assert test["n_discordant"] == 1 and test["p_value"] == 1.0


def test_a_team_better_on_every_task_is_first_in_every_replicate():
    rng = np.random.default_rng(4)
    parts = team_records("best", {"gsm8k": 0.9, "commonsenseqa": 0.9}, 200, rng, probe=30.0)
    for i, team in enumerate(["c", "d", "e"]):
        parts += team_records(team, {"gsm8k": 0.5 + 0.02 * i, "commonsenseqa": 0.5}, 200, rng)
    conf = confidence_of(pd.concat(parts, ignore_index=True))
    best = conf.stability.set_index(["view", "team"]).loc[("rank-points", "best")]
    assert (best["place"], best["place_low"], best["place_high"]) == (1, 1, 1)
    assert best["p_first"] > 0.99 and best["separable_from_next"]
    total = conf.intervals.set_index(["view", "team", "task"]).loc[("rank-points", "best", "total")]
    assert total["ci_low"] == total["value"] == total["ci_high"] == 10 + 10 + 20
    assert any("throughput points and the memory gate are held fixed" in n for n in conf.notes)


def test_delta_view_resamples_base_and_submission_together():
    """ELMB: every submission equals the base except on its first 20-60 items; the base's own item noise cancels,
    so the delta's interval is narrower than the submission's score's own interval."""
    rules = parse_rules(load_edition("elmb-2025"))
    rng = np.random.default_rng(6)
    tasks = ("elmb_roleplay", "elmb_reasoning", "elmb_function_calling", "elmb_chatrag")
    base = {t: (rng.random(300) < 0.4).astype(float) for t in tasks}
    parts = [rows_of(t, "base", [{"acc": x} for x in base[t]], team="organizers", role="base") for t in tasks]
    for k, team in enumerate(["x", "y", "z"]):
        for t in tasks:
            mine = base[t].copy()
            mine[: 20 * (k + 1)] = 1.0  # improved on the first 20 (k+1) items
            parts.append(rows_of(t, f"{team}--m", [{"acc": x} for x in mine], team=team))
    conf = confidence_of(pd.concat(parts, ignore_index=True), rules, track="")
    ci = conf.intervals.set_index(["view", "team", "task"])
    z = ci.loc[("delta", "z", "roleplay")]
    p = (z["value"] + 100 * base["elmb_roleplay"].mean()) / 100  # the submission's own accuracy
    own_width = 2 * 1.96 * 100 * math.sqrt(p * (1 - p) / 300)  # its score's interval alone (closed form)
    assert z["ci_low"] > 0 and z["ci_high"] - z["ci_low"] < 0.75 * own_width
    stab = conf.stability.set_index("team")
    assert list(conf.stability["team"]) == ["z", "y", "x"] and stab.loc["z", "place_high"] == 1
    assert not any("no interval available for this view" in n for n in conf.notes)


def test_2023_run_tasks_are_resampled_and_imported_metrics_held_fixed():
    rules = parse_rules(load_edition("llm-efficiency-2023"))
    rng = np.random.default_rng(8)
    parts = []
    for team, p in (("p", 0.3), ("q", 0.5), ("r", 0.52)):
        parts.append(rows_of("gsm8k", team, [{"accuracy": float(x)} for x in rng.random(300) < p]))
        parts.append(rows_of("math", team, [{"accuracy": float(x)} for x in rng.random(300) < p]))
    conf = confidence_of(pd.concat(parts, ignore_index=True), rules, track="A100")
    assert not any("no interval available for this view" in n for n in conf.notes)
    full = conf.intervals[(conf.intervals["view"] == "geometric-mean") & (conf.intervals["task"] == "Score_full")]
    assert full["ci_low"].notna().all() and (full["n_items"] == 600).all()
    helm = conf.stability[conf.stability["view"] == "helm-mean-win-rate"].set_index("team")
    assert helm.loc["p", "place"] == 3 and helm.loc["p", "place_low"] == 3  # clearly last


def test_imported_tables_have_no_interval():
    rules = parse_rules(load_edition("llm-efficiency-2023"))
    scores = pd.DataFrame(
        [
            dict(team=t, model=t, family="", role="submission", task="GSM8K", metric="GSM8K - EM", value=v, n=0)
            for t, v in (("p", 0.2), ("q", 0.3))
        ]
    )
    board = compute_scoreboard(scores, rules, track="A100")
    conf = compute_confidence(board, rules, None, ConfidenceSettings(replicates=50))
    assert conf.intervals["ci_low"].isna().all() and (conf.intervals["n_items"] == 0).all()
    assert any("no interval available" in n for n in conf.notes)
    assert conf.stability["place_low"].isna().all()
    kit = pd.DataFrame(  # kit CSVs: one team score per task, no models, no items
        [
            dict(team=t, model=t, family="", role="submission", task=task, metric="score", value=v + k, n=0)
            for k, task in enumerate(("gsm8k", "commonsenseqa"))
            for t, v in (("p", 20.0), ("q", 30.0))
        ]
    )
    board = compute_scoreboard(kit, EDGE, track="compression")
    conf = compute_confidence(board, EDGE, None, ConfidenceSettings(replicates=50))
    assert conf.intervals["ci_low"].isna().all() and conf.stability["place_low"].isna().all()
    assert conf.stability["separable_from_next"].isna().all() and conf.tests.empty


def test_settings_from_the_rule_file():
    assert parse_confidence(load_edition("edge-llm-2024")) == ConfidenceSettings(replicates=1000, seed=2024, level=0.95)
    custom = Edition(name="x", description="", tasks=(), raw={"confidence": {"replicates": 200, "level": 0.9}})
    assert parse_confidence(custom).quantiles == pytest.approx((0.05, 0.95))
    with pytest.raises(EvalfleetError, match="field 'confidence.replicate'"):
        parse_confidence(Edition(name="x", description="", tasks=(), raw={"confidence": {"replicate": 5}}))
    with pytest.raises(EvalfleetError, match="confidence.level"):
        parse_confidence(Edition(name="x", description="", tasks=(), raw={"confidence": {"level": 95}}))


# ---- evalfleet score end to end ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A compression final in a real store: 4 teams x 3 families on gsm8k and BBH (4 subtasks) + probes."""
    root = tmp_path_factory.mktemp("results")
    store = ResultStore(str(root))
    store.save_run_config({"edition": "edge-llm-2024", "track": "compression"})
    rng = np.random.default_rng(9)
    bbh = list(benchmarks.get_module(load_task("bbh")).subtasks(load_task("bbh")))[:4]
    for t, (team, p) in enumerate({"A": 0.75, "B": 0.6, "C": 0.58, "heavy": 0.5}.items()):
        for j, fam in enumerate(FAMILIES):
            ref = ModelRef(team=team, family=fam, path="/ckpt")
            write_shard(store, "gsm8k", ref, [{"accuracy": float(x)} for x in rng.random(120) < p])
            subsets = [bbh[i % 4] for i in range(80)]
            write_shard(store, "bbh", ref, [{"accuracy": float(x)} for x in rng.random(80) < p], subsets)
            memory = 13000.0 if team == "heavy" else 6000.0
            write_shard(store, "edge_probe:kit", ref, [{"throughput": 20.0 - t, "memory_mb": memory}])
    return root


def test_score_writes_the_confidence_files(results, tmp_path):
    html = score_results(str(results), str(tmp_path))
    conf = pd.read_csv(tmp_path / "confidence.csv")
    assert list(conf.columns) == ["view", "team", "task", "value", "ci_low", "ci_high", "n_items"]
    stab = pd.read_csv(tmp_path / "rank-stability.csv")
    assert list(stab.columns) == [
        "view",
        "team",
        "place",
        "place_low",
        "place_high",
        "p_first",
        "p_top3",
        "p_points",
        "separable_from_next",
    ]
    for stem in FILES:
        assert len(pd.read_parquet(tmp_path / f"{stem}.parquet")) == len(pd.read_csv(tmp_path / f"{stem}.csv")) > 0
    # the recorded values are the official ones, inside their intervals
    board = pd.read_csv(tmp_path / "rank-points.csv").set_index("team")
    totals = conf[(conf["view"] == "rank-points") & (conf["task"] == "total")].set_index("team")
    assert (totals["value"] == board["total"].reindex(totals.index)).all()
    ok = totals.drop(index="heavy")
    assert ((ok["ci_low"] <= ok["value"]) & (ok["value"] <= ok["ci_high"])).all()
    assert pd.isna(totals.loc["heavy", "ci_low"])  # disqualified: no place, no interval
    bbh = conf[(conf["view"] == "averaged-three-model") & (conf["task"] == "bbh")]
    assert (bbh["n_items"] == 80).all() and bbh["ci_low"].notna().all()
    rp = stab[stab["view"] == "rank-points"].set_index("team")
    assert pd.isna(rp.loc["heavy", "place"]) and rp.loc["A", "p_first"] > 0.5
    md = (tmp_path / "leaderboard.md").read_text()
    assert "place 95%" in md and "## Confidence" in md and "held fixed" in md
    assert html.read_text().count("data:image/png") >= 5  # + error bars (2 views) and the place intervals
    tests = pd.read_csv(tmp_path / "paired-tests.csv")
    assert set(tests["task"]) == {"gsm8k", "bbh"} and tests["p_value"].between(0, 1).all()


def test_rescoring_gives_byte_identical_confidence_files(results, tmp_path):
    score_results(str(results), str(tmp_path / "one"))
    score_results(str(results), str(tmp_path / "two"))
    for stem in FILES:
        for ext in ("csv", "parquet"):
            one = (tmp_path / "one" / f"{stem}.{ext}").read_bytes()
            assert one == (tmp_path / "two" / f"{stem}.{ext}").read_bytes(), f"{stem}.{ext}"


def test_no_confidence_skips_the_bootstrap(results, tmp_path):
    score_results(str(results), str(tmp_path), confidence=False)
    assert (tmp_path / "rank-points.csv").is_file()
    assert not any((tmp_path / f"{stem}.csv").exists() for stem in FILES)
    assert "## Confidence" not in (tmp_path / "leaderboard.md").read_text()
