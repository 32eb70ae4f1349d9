"""Per-item LongBench scores, each exactly one item's share of OpenCompass 0.5.4's LongBench*Evaluator.

OpenCompass's evaluators sum these per-item values over a subset and report sum / n * 100. Their
quirks are kept on purpose, because they change scores:
- count and retrieval *add* one term per reference instead of taking the best one;
- classification removes matched class names from the list it is iterating over (a skipped
  element when two neighbours are both substrings of the reference), and its difflib fallback is
  dead code (`em_match_list != 0` is always true), so a prediction naming no class scores 0;
- Chinese ROUGE re-segments the *already segmented* prediction for every further reference;
- code similarity reuses the line it picked for the first reference for the following ones.
Libraries are the ones OpenCompass uses: `jieba` (Chinese words), `rouge` (ROUGE-L F), and
fuzzywuzzy's `ratio` with python-Levenshtein, which is rapidfuzz's `fuzz.ratio` rounded (below).
"""

from __future__ import annotations

import re
import string
from collections import Counter
from typing import Sequence

_ZH_PUNCTUATION = "！？｡。＂＃＄％＆＇（）＊＋，－／：；＜＝＞＠［＼］＾＿｀\
            ｛｜｝～｟｠｢｣､、〃》「」『』【】〔〕〖〗〘〙〚〛〜〝〞〟〰〾〿–—‘’‛“”„‟…‧﹏."
# (the line continuation above keeps OpenCompass's 12 spaces inside the set, as its source has them)
_ALL_PUNCTUATION = set(string.punctuation + _ZH_PUNCTUATION)
_EN_PUNCTUATION = set(string.punctuation)


def normalize_answer(s: str) -> str:
    """English: lower-case, drop ASCII punctuation, the articles a/an/the, and extra whitespace."""
    s = "".join(ch for ch in s.lower() if ch not in _EN_PUNCTUATION)
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def normalize_zh_answer(s: str) -> str:
    """Chinese: lower-case, drop ASCII and Chinese punctuation, and all whitespace."""
    s = "".join(ch for ch in s.lower() if ch not in _ALL_PUNCTUATION)
    return "".join(s.split())


def _cut(text: str) -> list[str]:
    import jieba

    return list(jieba.cut(text, cut_all=False))


def token_f1(prediction: Sequence[str], reference: Sequence[str]) -> float:
    """Bag-of-tokens F1 (0 when nothing is shared)."""
    common = Counter(prediction) & Counter(reference)
    same = sum(common.values())
    if same == 0:
        return 0
    precision, recall = same / len(prediction), same / len(reference)
    return (2 * precision * recall) / (precision + recall)


def qa_f1(prediction: str, answers: Sequence[str], language: str) -> float:
    """LongBenchF1Evaluator: best token F1 over the answers (English words, or jieba words for 'zh')."""
    best = 0.0
    for reference in answers:
        if language == "en":
            pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
        else:
            pred = [t for t in (normalize_zh_answer(w) for w in _cut(prediction)) if t]
            ref = [t for t in (normalize_zh_answer(w) for w in _cut(reference)) if t]
        best = max(best, token_f1(pred, ref))
    return best


def rouge_l(prediction: str, answers: Sequence[str], language: str) -> float:
    """LongBenchRougeEvaluator: best ROUGE-L F (the `rouge` package) over the answers; 0 where it raises."""
    from rouge import Rouge

    best = 0.0
    for reference in answers:
        if language == "zh":
            prediction = " ".join(_cut(prediction))  # re-assigned on purpose (OpenCompass does)
            reference = " ".join(_cut(reference))
        try:
            current = Rouge().get_scores([prediction], [reference], avg=True)["rouge-l"]["f"]
        except Exception:
            current = 0.0
        best = max(best, current)
    return best


def fuzz_ratio(a: str, b: str) -> int:
    """fuzzywuzzy.fuzz.ratio with python-Levenshtein: 100 if equal, 0 if either is empty, else round(100 * ratio)."""
    from rapidfuzz import fuzz

    if a == b:
        return 100
    if not a or not b:
        return 0
    return int(round(fuzz.ratio(a, b)))


def code_sim(prediction: str, answers: Sequence[str]) -> float:
    """LongBenchCodeSimEvaluator: the first output line without '`', '#' or '//', best fuzzy ratio / 100."""
    best = 0.0
    for reference in answers:
        lines = prediction.lstrip("\n").split("\n")
        prediction = ""  # re-assigned on purpose (OpenCompass does)
        for line in lines:
            if "`" not in line and "#" not in line and "//" not in line:
                prediction = line
                break
        best = max(best, fuzz_ratio(prediction, reference) / 100)
    return best


def classification(prediction: str, answers: Sequence[str], all_classes: Sequence[str]) -> float:
    """LongBenchClassificationEvaluator: 1/len(matches) when the reference is among the class names found."""
    total = 0.0
    for reference in answers:
        matches = [name for name in all_classes if name in prediction]
        for term in matches:  # mutates while iterating, as OpenCompass does
            if term in reference and term != reference:
                matches.remove(term)
        if reference in matches:
            total += 1.0 / len(matches)
    return total


def _number_share(prediction: str, target: str) -> float:
    numbers = re.findall(r"\d+", prediction)
    right = sum(1 for n in numbers if str(n) == str(target))
    return 0.0 if not numbers else right / len(numbers)


def count(prediction: str, answers: Sequence[str]) -> float:
    """LongBenchCountEvaluator: per answer, the share of numbers in the output equal to it (summed)."""
    return sum(_number_share(prediction, reference) for reference in answers)


def retrieval(prediction: str, answers: Sequence[str], language: str) -> float:
    """LongBenchRetrievalEvaluator: the paragraph number of each answer ('Paragraph N' / '段落N'), as in count."""
    pattern = r"Paragraph (\d+)" if language == "en" else r"段落(\d+)"
    return sum(_number_share(prediction, re.findall(pattern, reference)[0]) for reference in answers)
