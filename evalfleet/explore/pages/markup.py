"""Small HTML helpers shared by the pages: escaping, tables of ready cells, pagers, select boxes."""

from __future__ import annotations

import html
from typing import Callable, Iterable, Sequence

from evalfleet.explore.items import Page


def esc(value: object) -> str:
    """Text as HTML (None as '')."""
    return html.escape("" if value is None else str(value))


def link(href: str, text: object, **attrs: str) -> str:
    """An <a> element (attribute names with '_' written with '-')."""
    extra = "".join(f' {k.replace("_", "-")}="{esc(v)}"' for k, v in attrs.items())
    return f'<a href="{esc(href)}"{extra}>{esc(text)}</a>'


Cell = str | tuple[str, str]
"""A table cell: HTML, or (HTML, CSS class of the cell)."""


def td(cell: Cell) -> str:
    """One <td>."""
    if isinstance(cell, tuple):
        return f'<td class="{esc(cell[1])}">{cell[0]}</td>'
    return f"<td>{cell}</td>"


def table(
    headers: Sequence[str], rows: Iterable[Sequence[Cell]], *, klass: str = "", row_ids: Iterable[str] = ()
) -> str:
    """A table whose cells are HTML already (headers are escaped); `row_ids` give each row an id."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    ids = list(row_ids)
    body = "".join(
        (f'<tr id="{esc(ids[i])}">' if i < len(ids) else "<tr>") + "".join(td(c) for c in row) + "</tr>"
        for i, row in enumerate(rows)
    )
    return (
        f'<div class="scroll"><table class="{klass}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    )


def pager(page: Page, href: Callable[[int], str], what: str = "rows") -> str:
    """'rows a–b of n' with previous / next / numbered links (nothing when everything fits on one page)."""
    if page.total == 0:
        return f"<p class='sub'>no {esc(what)}</p>"
    span = f"{what} {page.start + 1}–{page.start + len(page.rows)} of {page.total}"
    if page.pages == 1:
        return f"<p class='sub pager'>{esc(span)}</p>"
    near = sorted({1, page.pages, *range(max(1, page.number - 2), min(page.pages, page.number + 2) + 1)})
    parts = []
    if page.number > 1:
        parts.append(link(href(page.number - 1), "‹ previous", rel="prev"))
    for n in near:
        parts.append(f"<b>{n}</b>" if n == page.number else link(href(n), n))
    if page.number < page.pages:
        parts.append(link(href(page.number + 1), "next ›", rel="next"))
    return (
        f"<p class='sub pager' data-page='{page.number}' data-pages='{page.pages}'>{esc(span)} · {' '.join(parts)}</p>"
    )


def select(name: str, options: Iterable[tuple[str, str]], value: str) -> str:
    """A <select> of (value, label) pairs with `value` selected."""
    opts = "".join(
        f'<option value="{esc(v)}"{" selected" if v == value else ""}>{esc(label)}</option>' for v, label in options
    )
    return f'<select name="{esc(name)}">{opts}</select>'


def pre(text: object, klass: str = "") -> str:
    """Preformatted text, exactly as stored (whitespace and newlines kept; the newline after <pre> is the one HTML
    parsers drop, so a text's own leading newline survives)."""
    return f'<pre class="{klass}">\n{esc(text)}</pre>'


def number(value: object) -> str:
    """A score as text (4 significant decimals; '—' for none)."""
    try:
        f = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "—"
    if f != f:
        return "—"
    return f"{f:.4g}"
