"""An offline `bleu` module for `evaluate.load('bleu')` in the parity venv (OpenCompass's TruthfulQAEvaluator).

The hub's evaluate-metric/bleu cannot be fetched here. This module computes the same quantity with
an independent, installed implementation: sacrebleu's mteval-v13a tokenizer and its BLEU
sufficient statistics with smoothing 'none' and the full 4-gram order (no effective order), as a
fraction. That is HF's bleu (13a tokens, tensorflow/nmt compute_bleu without smoothing) up to
floating-point rounding in the last bits: the parity test compares per-item values with a 1e-12
tolerance and the rounded task metrics exactly. The item helper copies this file to <tmp>/bleu/bleu.py
and runs OpenCompass from <tmp>, where evaluate.load('bleu') finds it.
"""

import datasets
import evaluate
from sacrebleu.metrics import BLEU

_BLEU = BLEU(tokenize="13a", smooth_method="none", effective_order=False)


class Bleu(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="BLEU (13a, no smoothing) via sacrebleu, offline stand-in for evaluate-metric/bleu",
            citation="",
            inputs_description="",
            features=[
                datasets.Features(
                    {
                        "predictions": datasets.Value("string", id="sequence"),
                        "references": datasets.Sequence(datasets.Value("string", id="sequence"), id="references"),
                    }
                ),
                datasets.Features(
                    {
                        "predictions": datasets.Value("string", id="sequence"),
                        "references": datasets.Value("string", id="sequence"),
                    }
                ),
            ],
        )

    def _compute(self, predictions, references):
        if isinstance(references[0], str):
            references = [[ref] for ref in references]
        streams = [list(refs) for refs in zip(*references)]
        return {"bleu": _BLEU.corpus_score(list(predictions), streams).score / 100.0}

    def compute(self, *, predictions=None, references=None, **kwargs):
        """Straight to `_compute`: evaluate's Arrow caching costs ~80 ms a call, and TruthfulQA makes
        ~7,000 calls per run; inputs and result are those of Metric.compute."""
        return self._compute(predictions=list(predictions), references=list(references))
