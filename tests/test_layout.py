"""The layout's one rule: the flow goes one way (spec -> plan -> run -> store -> scoring -> report).

Read from the source (every `import` of an evalfleet module, at any depth): no stage imports a
later one (but the run hands its shards to the store), scoring neither reads the store nor writes
reports, and only commands and the demo use the pipeline.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "evalfleet"
STAGES = ("spec", "plan", "run", "store", "scoring", "report")
"""The stage packages, in flow order."""
HANDOFFS = {("run", "store")}
"""The one forward edge: the run hands each finished shard (rows in the record schema) to the store."""


def imports() -> dict[str, set[str]]:
    """evalfleet module (dotted) -> evalfleet modules it imports."""
    graph = {}
    for file in PACKAGE.rglob("*.py"):
        rel = file.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
        found = set()
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("evalfleet"):
                found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("evalfleet")}
        graph[name] = found
    return graph


def stage(module: str) -> str | None:
    part = module.split(".")[1] if module.count(".") else ""
    return part if part in STAGES else None


def test_no_stage_imports_a_later_stage():
    backwards = []
    for module, targets in imports().items():
        here = stage(module)
        for target in targets:
            there = stage(target)
            if here and there and STAGES.index(there) > STAGES.index(here) and (here, there) not in HANDOFFS:
                backwards.append(f"{module} -> {target}")
    assert backwards == []


def test_scoring_and_report_read_no_store_and_start_no_run():
    for module, targets in imports().items():
        if stage(module) in ("scoring", "report"):
            assert not {t for t in targets if stage(t) in ("store", "run", "plan")}, module


def test_only_commands_and_the_demo_use_the_pipeline():
    users = {m for m, targets in imports().items() if any(t.startswith("evalfleet.pipeline") for t in targets)}
    assert users and all(m.startswith(("evalfleet.commands.", "evalfleet.demo")) for m in users), users
