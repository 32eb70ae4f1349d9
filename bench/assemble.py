"""Assemble BENCH.md from the per-topic result files in bench/results/ (each names its own command)."""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ORDER = ["overhead", "vs_opencompass", "sandbox", "backends", "loglikelihood", "scheduler_sim"]
HEADER = """# BENCH — evalfleet performance figures

Every figure below was measured by a script in `bench/`, whose exact command is given with it;
ratios are measured side by side in one run, since these machines are noisy. Unless a section says
otherwise, the machine is the project's development machine: 2 CPU cores, 24 GiB, no GPU.
Regenerate this file with `python bench/assemble.py` after re-running a script.
"""


def main() -> None:
    results = ROOT / "bench" / "results"
    files = sorted(results.glob("*.md"), key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else len(ORDER), p.stem))
    parts = [HEADER] + [p.read_text(encoding="utf-8").strip() + "\n" for p in files]
    (ROOT / "BENCH.md").write_text("\n".join(parts), encoding="utf-8")
    print(f"BENCH.md: {len(files)} sections")


if __name__ == "__main__":
    main()
