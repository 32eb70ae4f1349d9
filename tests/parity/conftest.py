"""Parity harness: OpenCompass 0.5.4 itself, in its own venv, against evalfleet, item by item.

How it works
- `scripts/test-setup/20-parity-env.sh` builds `.venv-parity` (opencompass==0.5.4, numpy<2,
  pyarrow<21, datasets<4, transformers<5). Parity tests skip when it is missing.
- Scripts under `tests/parity/oc/` run INSIDE that venv and never import evalfleet; they talk JSON
  (one object on stdin, the answer as the last line of stdout):
  * `render.py`: OpenCompass's prompts for a dataset config, through its dataset loader, retriever,
    prompt template, GenInferencer prompt list, template parser and the HF model wrappers'
    conversion (base: HuggingFaceBaseModel; chat: HuggingFacewithChatTemplate + a tokenizer's chat
    template). mode "ppl" gives one prompt per label (PPLInferencer's label prompts).
  * `score.py`: OpenCompass's `dataset_postprocessor`, `pred_postprocessor` and evaluator on given
    predictions (OpenICLEvalTask's own methods) → per-item extracted answer and verdict, metrics.
- `oc/_common.py` lays ../shared/data out as OpenCompass's COMPASS_DATA_CACHE expects (LAYOUT).

Adding a dataset (LongBench, CHID, TruthfulQA, TyDiQA, HumanEval, T-Eval, ...)
1. Add the file layout to `LAYOUT` in `tests/parity/oc/_common.py` (dest under the cache, as the
   dataset id's `local` path in opencompass/utils/datasets_info.py, → source under shared data;
   a `(converter, source)` pair where OpenCompass wants another format).
2. In your test (mark it `@pytest.mark.parity` and `@pytest.mark.slow`):

       def test_my_prompts(oc, shared_data, tiny_models):
           got = oc.render("opencompass.configs.datasets.tydiqa.tydiqa_gen_978d2a",
                           style="chat", tokenizer=tiny_models["llama"])   # {abbr: [{index, prompt}]}
           ...compare with evalfleet.benchmarks.prompting.render(item.messages, "chat", tokenizer)...
           res = oc.score("opencompass.configs.datasets.tydiqa.tydiqa_gen_978d2a",
                          {"tydiqa-goldp_arabic": {"indices": None, "predictions": [...]}})
           # {abbr: {"extracted": [...], "correct": [...], "metrics": {...}}}

   `oc.render(config, datasets=[abbr, ...], style="base"|"chat", mode="gen"|"ppl", tokenizer=path,
   limit=N, overrides={...}, retriever={...})`, `oc.score(config, {abbr: {indices, predictions}},
   overrides={...})`. Each call starts the venv's python once, and OpenCompass's import takes
   10-50 s (it imports every dataset module): batch with `oc.render_many([{config, style, ...}, ...])`
   / `oc.score_many([{config, datasets}, ...])`, from a module- or session-scoped fixture.
3. Tokenizers saved by transformers 5 are loaded in the venv through a copy naming
   PreTrainedTokenizerFast (same tokenizer.json and chat template); see render.py.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PARITY_PYTHON = ROOT / ".venv-parity" / "bin" / "python"
OC_DIR = Path(__file__).resolve().parent / "oc"


def run_in_parity_env(script: str, request: dict, *, timeout: float = 900) -> object:
    """Run tests/parity/oc/<script> in the parity venv with `request` as JSON; return its JSON answer."""
    proc = subprocess.run(
        [str(PARITY_PYTHON), str(OC_DIR / script)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=str(OC_DIR),
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{script} failed (rc {proc.returncode}):\n{proc.stderr[-4000:]}")
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    return json.loads(lines[-1])


@dataclass
class OpenCompass:
    """Calls into the parity venv with the shared data laid out for OpenCompass."""

    shared_data: Path
    data_cache: Path

    def _base(self) -> dict:
        return {"shared_data": str(self.shared_data), "data_cache": str(self.data_cache)}

    def render(
        self,
        config: str,
        *,
        datasets=None,
        style="base",
        mode="gen",
        tokenizer=None,
        limit=None,
        overrides=None,
        retriever=None,
    ) -> dict:
        req = {
            **self._base(),
            "config": config,
            "datasets": datasets,
            "style": style,
            "mode": mode,
            "tokenizer": str(tokenizer) if tokenizer else None,
            "limit": limit,
            "overrides": overrides,
            "retriever": retriever,
        }
        return run_in_parity_env("render.py", req)

    def score(self, config: str, datasets: dict, *, overrides=None) -> dict:
        req = {**self._base(), "config": config, "datasets": datasets, "overrides": overrides}
        return run_in_parity_env("score.py", req)

    def render_many(self, jobs: list[dict]) -> list:
        """Several `render` requests (dicts of its keyword arguments plus `config`) in one venv start."""
        jobs = [{**job, "tokenizer": str(job["tokenizer"]) if job.get("tokenizer") else None} for job in jobs]
        return run_in_parity_env("render.py", {**self._base(), "jobs": jobs}, timeout=1800)

    def score_many(self, jobs: list[dict]) -> list:
        """Several `score` requests ({config, datasets, overrides}) in one venv start."""
        return run_in_parity_env("score.py", {**self._base(), "jobs": jobs}, timeout=1800)

    def items(self, request: dict) -> dict:
        """oc/items_longbench_chid_truthfulqa_tydiqa.py on `request` (prompts and per-item scores in one venv start)."""
        return run_in_parity_env("items_longbench_chid_truthfulqa_tydiqa.py", request, timeout=1800)


@pytest.fixture(scope="session")
def parity_python() -> Path:
    """The parity venv's python; skips the test when the venv was not built."""
    if not PARITY_PYTHON.exists():
        pytest.skip("parity venv missing: run scripts/test-setup/20-parity-env.sh")
    return PARITY_PYTHON


@pytest.fixture(scope="session")
def oc(parity_python, shared_data, tmp_path_factory) -> OpenCompass:
    """OpenCompass in its venv, reading ../shared/data through a COMPASS_DATA_CACHE layout."""
    return OpenCompass(shared_data=shared_data, data_cache=tmp_path_factory.mktemp("oc-data-cache"))
