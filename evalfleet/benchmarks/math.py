"""MATH as OpenCompass's math_gen_265cce: Minerva 4-shot → math_postprocess_v2 → MATHEvaluator v2 equivalence.

The reference is the last \\boxed{...} of the official solution (OpenCompass's extract_boxed_answer;
None when the solution has none, which then never matches). The functions below follow
OpenCompass 0.5.4's `opencompass/datasets/math.py` step by step — including its quirks, e.g.
`_fix_a_slash_b` raising on 'x/2' (caught by the equivalence check, which then falls back) —
because the parity suite demands identical verdicts on every prediction.
"""

from __future__ import annotations

import re
from pathlib import Path

from evalfleet.benchmarks._text import data_path, field, index_ids, read_jsonl
from evalfleet.benchmarks.prompting import build_messages
from evalfleet.types import Item, TaskSpec

OPTIONS = frozenset({"rounds"})
"""Keys read from `spec.options`: rounds (prompt template)."""


def load_items(spec: TaskSpec, data_dir: Path) -> list[Item]:
    """Problems of the JSON Lines file (math_test_5000 or math500_test), ids in file order, subset = subject."""
    path = data_path(data_dir, spec.data_files[0])
    rows = read_jsonl(path)
    items = []
    for n, (item_id, row) in enumerate(zip(index_ids(len(rows)), rows), 1):
        problem, solution = field(row, "problem", path, n), field(row, "solution", path, n)
        messages = build_messages(spec.options["rounds"], {"problem": problem, "solution": ""}, source=spec.name)
        subject = row.get("type") or row.get("subject") or ""
        items.append(
            Item(
                id=item_id,
                messages=messages,
                reference=extract_boxed_answer(solution),
                subset=subject,
                meta={"level": row.get("level", "")},
            )
        )
    return items


# ---- answer extraction (math_postprocess_v2) -------------------------------------------------


def last_boxed_only_string(string: str) -> str | None:
    """The last '\\boxed{...}' (or '\\fbox{...}') with balanced braces, or None."""
    idx = string.rfind("\\boxed")
    if idx < 0:
        idx = string.rfind("\\fbox")
        if idx < 0:
            return None
    depth = 0
    for i in range(idx, len(string)):
        if string[i] == "{":
            depth += 1
        if string[i] == "}":
            depth -= 1
            if depth == 0:
                return string[idx : i + 1]
    return None


def remove_boxed(s: str) -> str | None:
    left = "\\boxed{"
    if s[: len(left)] == left and s[-1:] == "}":
        return s[len(left) : -1]
    return None


def extract_boxed_answer(text: str, strip_double_curly_brace: bool = False) -> str | None:
    """The content of the last \\boxed{} (a '{...}' wrapper removed on request), or None."""
    boxed = last_boxed_only_string(text)
    answer = remove_boxed(boxed) if boxed is not None else None
    if answer is not None and strip_double_curly_brace:
        match = re.match(r"^\{(.*)\}$", answer)
        if match:
            answer = match.group(1)
    return answer


_SUBSTITUTIONS = [
    ("an ", ""),
    ("a ", ""),
    (".$", "$"),
    ("\\$", ""),
    (r"\ ", ""),
    (" ", ""),
    ("mbox", "text"),
    (",\\text{and}", ","),
    ("\\text{and}", ","),
    ("\\text{m}", "\\text{}"),
    ("\\le", "<"),
]
_REMOVED_EXPRESSIONS = [
    "square",
    "ways",
    "integers",
    "dollars",
    "mph",
    "inches",
    "ft",
    "hours",
    "km",
    "units",
    "\\ldots",
    "sue",
    "points",
    "feet",
    "minutes",
    "digits",
    "cents",
    "degrees",
    "cm",
    "gm",
    "pounds",
    "meters",
    "meals",
    "edges",
    "students",
    "childrentickets",
    "multiples",
    "\\text{s}",
    "\\text{.}",
    "\\text{\ns}",
    "\\text{}^2",
    "\\text{}^3",
    "\\text{\n}",
    "\\text{}",
    r"\mathrm{th}",
    r"^\circ",
    r"^{\circ}",
    r"\;",
    r",\!",
    "{,}",
    '"',
    "\\dots",
    "\n",
    "\r",
    "\f",
]


def normalize_final_answer(final_answer: str) -> str:
    """Minerva's normalization of a final answer (OpenCompass's normalize_final_answer)."""
    for before, after in _SUBSTITUTIONS:
        final_answer = final_answer.replace(before, after)
    for expr in _REMOVED_EXPRESSIONS:
        final_answer = final_answer.replace(expr, "")
    final_answer = re.sub(r"(\\text\{)\((.*?)\)(\})", "\\2", final_answer)
    final_answer = re.sub(r"(\\text\{)(.*?)(\})", "\\2", final_answer)
    final_answer = re.sub(r"(\\textbf\{)(.*?)(\})", "\\2", final_answer)
    final_answer = re.sub(r"(\\overline\{)(.*?)(\})", "\\2", final_answer)
    final_answer = re.sub(r"(\\boxed\{)(.*)(\})", "\\2", final_answer)
    for pattern in (r"finalansweris(.*)", r"answer?is:?(.*)", r"oxed\{(.*?)\}", r"\$(.*?)\$"):
        found = re.findall(pattern, final_answer)
        if found:
            final_answer = found[-1]
    final_answer = final_answer.strip()
    if "rac" in final_answer and "\\frac" not in final_answer:
        final_answer = final_answer.replace("rac", "\\frac")
    final_answer = re.sub(r"(frac)([^{])(.)", "frac{\\2}{\\3}", final_answer)
    final_answer = re.sub(r"(sqrt)([^{])", "sqrt{\\2}", final_answer)
    final_answer = final_answer.replace("$", "")
    if final_answer.replace(",", "").isdigit():
        final_answer = final_answer.replace(",", "")
    return final_answer


def extract(text: str, item: Item | None = None, spec: TaskSpec | None = None) -> str:
    """math_postprocess_v2: the last \\boxed{} if non-empty, else the first '.'-separated piece
    mentioning 'final answer' / 'answer is', else the first piece, normalized."""
    boxed = extract_boxed_answer(text, strip_double_curly_brace=True)
    if boxed:
        return boxed
    for piece in text.split("."):
        if re.search("final answer|answer is", piece.lower()):
            return normalize_final_answer(piece)
    return normalize_final_answer(text.split(".")[0])


# ---- equivalence (MATHEvaluator, version v2) ----------------------------------------------------


def _fix_fracs(string: str) -> str:
    substrs = string.split("\\frac")
    new_str = substrs[0]
    for substr in substrs[1:]:
        new_str += "\\frac"
        if len(substr) > 0 and substr[0] == "{":
            new_str += substr
            continue
        if len(substr) < 2:
            return string
        a, b, rest = substr[0], substr[1], substr[2:]
        new_str += ("{" + a + "}{" + b + "}" + rest) if b != "{" else ("{" + a + "}" + b + rest)
    return new_str


def _fix_a_slash_b(string: str) -> str:
    """'3/4' -> '\\frac{3}{4}'; raises ValueError on non-integers, as OpenCompass's does."""
    if len(string.split("/")) != 2:
        return string
    a, b = string.split("/")
    a, b = int(a), int(b)  # ValueError propagates (OpenCompass catches only AssertionError here)
    if string != f"{a}/{b}":
        return string
    return "\\frac{" + str(a) + "}{" + str(b) + "}"


def strip_string_v2(string) -> str:
    """MATHEvaluator._strip_string_v2: canonical form of an answer for string comparison."""
    string = str(string).strip()
    string = string.replace("\n", "").rstrip(".")
    string = string.replace("\\!", "").replace("\\ ", "")
    string = string.replace("\\\\", "\\").replace("\\\\", "\\")
    string = string.replace("tfrac", "frac").replace("dfrac", "frac")
    string = string.replace("\\left", "").replace("\\right", "")
    without_unit = re.sub(r"\\text{.*?}$", "", string).strip()
    if without_unit != "" and without_unit != string:
        string = without_unit
    string = string.replace("^{\\circ}", "").replace("^\\circ", "")
    string = string.replace("\\$", "").replace("$", "")
    string = string.replace("\\text", "").replace("x\\in", "")
    string = string.replace("\\%", "").replace("%", "")
    string = string.replace(" .", " 0.").replace("{.", "{0.")
    string = string.replace("\\cdot", "")
    string = string.replace("infinity", "\\infty")
    if "\\infty" not in string:
        string = string.replace("inf", "\\infty")
    string = string.replace("+\\inity", "\\infty")
    string = string.replace("and", "").replace("\\mathbf", "")
    string = re.sub(r"\\mbox{.*?}", "", string)
    if "j" in string and "i" not in string:
        string = string.replace("j", "i")
    string = re.sub(r"(\d+)\.0+([^\d])", r"\1\2", string)
    string = re.sub(r"(\d+)\.0+$", r"\1", string)
    if len(string) == 0:
        return string
    if string[0] == ".":
        string = "0" + string
    if len(string.split("=")) == 2 and len(string.split("=")[0]) <= 2:
        string = string.split("=")[1]
    string = re.sub(r"\\sqrt(\w+)", r"\\sqrt{\1}", string)
    string = string.replace(" ", "")
    string = _fix_fracs(string)
    return _fix_a_slash_b(string)


def is_equiv(pred: str | None, ref: str | None) -> bool:
    """MATHEvaluator(version='v2').is_equiv: stripped forms equal, or their normalized forms, or the
    normalized raw strings, or the raw strings."""
    if pred is None and ref is None:
        return True
    if pred is None or ref is None:
        return False
    try:
        s1, s2 = strip_string_v2(pred), strip_string_v2(ref)
        if s1 == s2 or normalize_final_answer(s1) == normalize_final_answer(s2):
            return True
    except Exception:
        pass
    try:
        if normalize_final_answer(pred) == normalize_final_answer(ref):
            return True
    except Exception:
        pass
    return pred == ref


def score(extracted: str, item: Item, spec: TaskSpec | None = None) -> dict[str, float]:
    """{'accuracy': 1.0 if the extracted answer is equivalent to the reference}."""
    return {"accuracy": float(is_equiv(extracted, item.reference))}
