"""transformers' model-type and causal-LM tables, read from its installed source without importing it.

Importing `transformers.models.auto` takes seconds (it pulls in torch and every config class),
and the submission checks run in the driver before Ray starts, where nothing else needs
transformers. So `tables()` reads the literal definitions of `CONFIG_MAPPING_NAMES` and
`MODEL_FOR_CAUSAL_LM_MAPPING_NAMES` from the package's files (`NAME = OrderedDict([...])`,
`NAME = OrderedDict(**{...}, **NAME)` and `NAME.update({...})` statements, in file order). When
the files do not have that shape (another transformers layout), it imports the tables instead.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from pathlib import Path

NAMES = ("CONFIG_MAPPING_NAMES", "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES")
FILES = ("models/auto/auto_mappings.py", "models/auto/configuration_auto.py", "models/auto/modeling_auto.py")
"""Where transformers 4.x and 5.x define the two tables, in the order their statements run."""


class Unreadable(Exception):
    """A statement about a table that is not a literal."""


def _literal(node: ast.expr, tables: dict[str, dict]) -> dict:
    """A dict from `OrderedDict([...])`, `OrderedDict(**{...}, **NAME)`, a dict or a list of pairs."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("OrderedDict", "dict"):
        out: dict = {}
        for arg in node.args:
            out.update(_literal(arg, tables))
        for kw in node.keywords:
            if kw.arg is not None:
                raise Unreadable(kw.arg)
            out.update(
                tables[kw.value.id]
                if isinstance(kw.value, ast.Name) and kw.value.id in tables
                else _literal(kw.value, tables)
            )
        return out
    try:
        return dict(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError) as exc:
        raise Unreadable(ast.dump(node)[:80]) from exc


def read_tables(sources: list[str]) -> dict[str, dict[str, str]]:
    """The two tables from module sources, statement by statement (Unreadable when one is not a literal)."""
    tables: dict[str, dict[str, str]] = {}
    for source in sources:
        for stmt in ast.parse(source).body:
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and stmt.targets[0].id in NAMES
            ):
                tables[stmt.targets[0].id] = _literal(stmt.value, tables)
            elif (
                isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Call)
                and isinstance(stmt.value.func, ast.Attribute)
                and isinstance(stmt.value.func.value, ast.Name)
                and stmt.value.func.value.id in NAMES
                and stmt.value.func.attr == "update"
            ):
                name = stmt.value.func.value.id
                tables.setdefault(name, {}).update(_literal(stmt.value.args[0], tables))
    return tables


def _from_import() -> dict[str, dict[str, str]]:
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return {
        "CONFIG_MAPPING_NAMES": dict(CONFIG_MAPPING_NAMES),
        "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES": dict(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES),
    }


@functools.cache
def tables() -> tuple[frozenset[str], dict[str, str]]:
    """(model types the installed transformers knows, model type -> its causal-LM class name)."""
    spec = importlib.util.find_spec("transformers")
    found: dict[str, dict[str, str]] = {}
    if spec is not None and spec.origin:
        root = Path(spec.origin).parent
        try:
            found = read_tables([(root / f).read_text(encoding="utf-8") for f in FILES if (root / f).is_file()])
        except (Unreadable, OSError, SyntaxError):
            found = {}
    if not all(found.get(name) for name in NAMES):
        found = _from_import()
    return frozenset(found["CONFIG_MAPPING_NAMES"]), dict(found["MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"])
