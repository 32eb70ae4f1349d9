"""Assemble BENCH.md from the per-topic result files in bench/results/ (each names its own command)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["overhead", "vs_opencompass", "vs_opencompass_gsm8k", "sandbox", "backends", "loglikelihood", "scheduler_sim"]
HEADER = """# BENCH — evalfleet performance figures

Every figure below was measured by a script in `bench/`, whose exact command is given with it;
ratios are measured side by side in one run, since these machines are noisy. Unless a section says
otherwise, the machine is the project's development machine: 2 CPU cores, 24 GiB, no GPU.
Regenerate this file with `python bench/assemble.py` after re-running a script.
"""


def as_section(text: str) -> str:
    """The file's text with headings one level down when it starts at level 1 (code blocks untouched)."""
    lines, fenced = text.strip().splitlines(), False
    shift = bool(lines) and lines[0].startswith("# ")
    out = []
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        out.append("#" + line if shift and not fenced and line.startswith("#") else line)
    return "\n".join(out) + "\n"


def main() -> None:
    results = ROOT / "bench" / "results"
    files = sorted(results.glob("*.md"), key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else len(ORDER), p.stem))
    parts = [HEADER] + [as_section(p.read_text(encoding="utf-8")) for p in files]
    (ROOT / "BENCH.md").write_text("\n".join(parts), encoding="utf-8")
    print(f"BENCH.md: {len(files)} sections")


if __name__ == "__main__":
    main()
