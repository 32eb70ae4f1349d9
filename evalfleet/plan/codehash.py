"""The evalfleet source that computes a shard's outputs, and the source that scores them, derived from the code.

A fingerprint must change when code that can change a result changes, and only then. Which files
those are is read from the source itself (static imports, no module is executed):

- the *generation* code of a shard: the import closure of the backend, the worker and
  `run/evaluate.py`, the prompt rendering, and the part of the benchmark module that builds items
  (`load_items`, `measure` and the top-level names they use);
- the *scoring* code: the part of the benchmark module that extracts, scores and aggregates
  (`extract`, `score`, `aggregate`, `choose` and what they use), the registry's defaults
  (`evalfleet/benchmarks/__init__.py`), `run/evaluate.py` (it applies them), and their imports.

Within the benchmark module and the registry, a top-level statement belongs to a side when a root
function of that side reaches it by name; a statement no root names (an `if` at module level, say)
belongs to both. Other modules count whole. A module's digest is sha256 of its source text.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent
"""The `evalfleet` package directory whose sources are hashed."""

GENERATION_ROOTS = ("load_items", "measure")
"""Benchmark-module functions on the path from item to output."""
SCORING_ROOTS = ("extract", "score", "aggregate", "choose")
"""Benchmark-module functions from output to per-item and task metrics."""
REGISTRY = "evalfleet.benchmarks"
"""The benchmark registry: its lookup is generation code, its defaults scoring code."""
REGISTRY_GENERATION = ("get_module", "_import")
"""Registry functions the generation path uses."""
REGISTRY_SCORING = ("aggregate", "default_aggregate", "choose", "default_choose")
"""Registry functions the scoring path uses (defaults for modules without their own)."""
GENERATION_MODULES = ("evalfleet.run.evaluate", "evalfleet.run.worker", "evalfleet.benchmarks.prompting")
"""Whole modules on every task's generation path, besides the backend's."""
SCORING_MODULES = ("evalfleet.run.evaluate",)
"""Whole modules on every task's scoring path."""


@dataclass(frozen=True)
class Part:
    """The statements of one module that one side (generation or scoring) uses."""

    module: str
    """Dotted module name, e.g. 'evalfleet.benchmarks.gsm8k'."""
    source: str
    """The used statements' source, in file order (the whole file for modules that count whole)."""
    imports: frozenset[str]
    """evalfleet modules those statements import."""


def module_path(name: str) -> Path:
    """The source file of evalfleet module `name` (a module file or a package's __init__.py)."""
    bits = name.split(".")[1:]
    file = PACKAGE_DIR.joinpath(*bits[:-1], f"{bits[-1]}.py") if bits else None
    return file if file and file.is_file() else PACKAGE_DIR.joinpath(*bits, "__init__.py")


def is_module(name: str) -> bool:
    """True when `name` is an evalfleet module or package with a source file."""
    return name.split(".")[0] == "evalfleet" and module_path(name).is_file()


@lru_cache(maxsize=None)
def _parsed(name: str) -> tuple[str, ast.Module]:
    source = module_path(name).read_text(encoding="utf-8")
    return source, ast.parse(source)


def _imported(node: ast.AST) -> dict[str, str]:
    """Local name -> evalfleet module for one import statement (other packages ignored)."""
    found = {}
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] == "evalfleet":
                found[(alias.asname or alias.name).split(".")[0]] = alias.name
    elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "evalfleet":
        for alias in node.names:
            sub = f"{node.module}.{alias.name}"
            found[alias.asname or alias.name] = sub if is_module(sub) else node.module
    return found


def _names_used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _defined(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return set()


def whole(name: str) -> Part:
    """All of module `name`."""
    source, tree = _parsed(name)
    imports = {m for node in ast.walk(tree) for m in _imported(node).values()}
    return Part(name, source, frozenset(imports))


def part(name: str, roots: tuple[str, ...]) -> Part:
    """The top-level statements of module `name` that `roots` reach by name, plus the unnamed ones."""
    source, tree = _parsed(name)
    aliases = {k: v for node in tree.body for k, v in _imported(node).items()}
    by_name = {n: stmt for stmt in tree.body for n in _defined(stmt)}
    keep, todo = set(), [r for r in roots if r in by_name]
    while todo:
        stmt = by_name[todo.pop()]
        if id(stmt) in keep:
            continue
        keep.add(id(stmt))
        todo += [n for n in _names_used(stmt) if n in by_name and id(by_name[n]) not in keep]
    chosen = [s for s in tree.body if id(s) in keep or not (_defined(s) or isinstance(s, (ast.Import, ast.ImportFrom)))]
    used = set().union(*(_names_used(s) for s in chosen)) if chosen else set()
    imports = {mod for alias, mod in aliases.items() if alias in used}
    imports |= {m for s in chosen for node in ast.walk(s) for m in _imported(node).values()}
    text = "\n".join(ast.get_source_segment(source, s) or "" for s in chosen)
    return Part(name, text, frozenset(imports))


def parents(name: str) -> list[str]:
    """The packages a module's import runs first ('evalfleet.run.worker' -> 'evalfleet', 'evalfleet.run')."""
    bits = name.split(".")
    return [".".join(bits[:k]) for k in range(1, len(bits))]


def closure(parts: list[Part]) -> dict[str, str]:
    """Module -> sha256 of the source used: each of `parts` as given, every evalfleet module they import whole."""
    digests = {p.module: hashlib.sha256(p.source.encode()).hexdigest() for p in parts}
    todo = [m for p in parts for m in sorted(p.imports) + parents(p.module)]
    while todo:
        name = todo.pop()
        if name in digests:
            continue
        w = whole(name)
        digests[name] = hashlib.sha256(w.source.encode()).hexdigest()
        todo += sorted(w.imports - digests.keys()) + parents(name)
    return dict(sorted(digests.items()))


@lru_cache(maxsize=None)
def generation_code(benchmark: str, backend: str) -> tuple[tuple[str, str], ...]:
    """(module, digest) of every evalfleet source on benchmark `benchmark`'s path from item to output."""
    parts = [whole(m) for m in GENERATION_MODULES]
    backend_module = f"evalfleet.backends.{backend}"
    if is_module(backend_module):
        parts.append(whole(backend_module))
    parts += [part(f"{REGISTRY}.{benchmark}", GENERATION_ROOTS), part(REGISTRY, REGISTRY_GENERATION)]
    return tuple(closure(parts).items())


@lru_cache(maxsize=None)
def scoring_code(benchmark: str) -> tuple[tuple[str, str], ...]:
    """(module, digest) of every evalfleet source from a recorded output to its task score."""
    parts = [whole(m) for m in SCORING_MODULES]
    parts += [part(f"{REGISTRY}.{benchmark}", SCORING_ROOTS), part(REGISTRY, REGISTRY_SCORING)]
    return tuple(closure(parts).items())
