"""The explorer's addresses: one relative, file-like path per page, the same under `evalfleet serve` and in
an exported folder, so every link works in both.

    index.html                              the leaderboard (coverage, run progress, every view)
    tasks/<task>.html                       one task: every model's scores
    items/<task>/<model>.html               one model's items of one task (filters and search when served)
    item/<task>/<model>/<item>.html         one item: prompt, output, answer, reference, metrics, shard
    compare/<task>.html?a=..&b=..           two models (or two runs of one) side by side (served only)
    report.html                             the static report, its cells linked to tasks/<task>.html

Ids become path components through `slug` (every character but letters, digits, '_' and '-' as ~HH), which
`unslug` reverses: a task variant's ':' or an item id's '/' never splits a path. Served pages take
`?page=N`; exported pages are one file per page (`index-p2.html`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlencode

SAFE = re.compile(r"[A-Za-z0-9_-]")
"""Characters kept as they are in a slug."""


def slug(name: str) -> str:
    """`name` as one path component: unsafe characters as ~HH (UTF-8 bytes, upper-case hex)."""
    return "".join(c if SAFE.fullmatch(c) else "".join(f"~{b:02X}" for b in c.encode()) for c in str(name))


def unslug(text: str) -> str:
    """The name `slug` encoded (a slug holds no '%', and each '~' starts an escape)."""
    return unquote(text.replace("~", "%"))


@dataclass(frozen=True)
class Links:
    """Relative links from one page to the others."""

    root: str = ""
    """Path from the page to the site's root ('' at the root, '../' one folder down)."""
    static: bool = False
    """An exported folder: no query strings (pages are files), no live refresh, no compare pages."""

    def at(self, depth: int) -> Links:
        """The links of a page `depth` folders below the root."""
        return Links("../" * depth, self.static)

    def index(self, page: int = 1) -> str:
        return self.root + self._paged("index", page)

    def task(self, task: str, page: int = 1) -> str:
        return self.root + self._paged(f"tasks/{slug(task)}", page)

    def items(self, task: str, model: str, page: int = 1, **query: str) -> str:
        return self.root + self._paged(f"items/{slug(task)}/{slug(model)}", page, query)

    def item(self, task: str, model: str, item: str) -> str:
        return f"{self.root}item/{slug(task)}/{slug(model)}/{slug(item)}.html"

    def compare(self, task: str, **query: str) -> str:
        return f"{self.root}compare/{slug(task)}.html" + _query(query)

    def report(self) -> str:
        return f"{self.root}report.html"

    def state(self) -> str:
        return f"{self.root}api/state.json"

    def _paged(self, stem: str, page: int, query: dict | None = None) -> str:
        if self.static:
            return f"{stem}.html" if page <= 1 else f"{stem}-p{page}.html"
        return f"{stem}.html" + _query({**(query or {}), "page": str(page) if page > 1 else ""})


def _query(query: dict) -> str:
    kept = {k: v for k, v in query.items() if v not in ("", None)}
    return "?" + urlencode(kept) if kept else ""
