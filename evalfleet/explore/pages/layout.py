"""The page shell: the report's CSS plus the explorer's, a navigation bar, breadcrumbs, and (served pages
only) a small script that polls `api/state.json` and swaps in the page's `<main id="live">` when the
results root changed — the leaderboard fills in while a run writes."""

from __future__ import annotations

from typing import Sequence

from evalfleet.explore.links import Links
from evalfleet.explore.pages.markup import esc, link
from evalfleet.report.html import CSS as REPORT_CSS

CSS = """
nav.top{display:flex;gap:1.2rem;align-items:baseline;border-bottom:1px solid #ddd;padding-bottom:.4rem}
nav.top .brand{font-weight:bold} nav.crumbs{color:#555;font-size:.85rem;margin:.5rem 0}
.badge{display:inline-block;padding:.05rem .45rem;border-radius:.6rem;font-size:.75rem;vertical-align:middle}
.badge.provisional{background:#fff4d6;color:#8a5a00;border:1px solid #e0b300}
.badge.final{background:#e6f4ea;color:#1e6b34;border:1px solid #7cc08f}
.badge.ok{background:#e6f4ea;color:#1e6b34} .badge.bad{background:#fbe9e9;color:#8a1f1f}
td.complete{background:#eef8f0} td.partial{background:#fff4d6}
td.right{color:#1e6b34} td.wrong{color:#8a1f1f} td.error{background:#fbe9e9}
pre{background:#f6f8fa;border:1px solid #e3e3e3;padding:.6rem;white-space:pre-wrap;overflow-wrap:anywhere;
font-size:.8rem;max-height:40rem;overflow:auto}
.side{display:grid;grid-template-columns:1fr 1fr;gap:1rem} .side>div{min-width:0}
form.filters{background:#f5f7fa;padding:.5rem .8rem;margin:.8rem 0;display:flex;gap:.8rem;flex-wrap:wrap;
align-items:center;font-size:.85rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;font-size:.85rem}
dl.facts dt{color:#555} dl.facts dd{margin:0}
.progress{background:#f5f7fa;border-left:4px solid #4a6fa5;padding:.5rem 1rem}
.bar{background:#e3e3e3;height:.6rem;border-radius:.3rem;overflow:hidden;max-width:30rem}
.bar>span{display:block;height:100%;background:#4a6fa5}
table.items td,table.coverage td:first-child,table.models td:nth-child(-n+2){text-align:left}
input[type=search]{min-width:22rem}
"""

SCRIPT = """
(function () {
  var body = document.body, state = body.getAttribute('data-state');
  if (!state) { return; }
  function swap(text) {
    var doc = new DOMParser().parseFromString(text, 'text/html');
    var fresh = doc.getElementById('live'), old = document.getElementById('live');
    if (fresh && old) { old.replaceWith(fresh); }
    body.setAttribute('data-stamp', doc.body.getAttribute('data-stamp') || '');
    body.setAttribute('data-refreshes', String(Number(body.getAttribute('data-refreshes') || 0) + 1));
  }
  function tick() {
    fetch(state, {cache: 'no-store', credentials: 'same-origin'})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (s.stamp === body.getAttribute('data-stamp')) { return null; }
        return fetch(location.href, {cache: 'no-store', credentials: 'same-origin'})
          .then(function (r) { return r.text(); }).then(swap);
      })
      .catch(function () {})
      .then(function () { setTimeout(tick, 1000); });
  }
  setTimeout(tick, 1000);
})();
"""


def page(
    title: str,
    main: str,
    links: Links,
    *,
    stamp: str = "",
    crumbs: Sequence[tuple[str, str]] = (),
    before: str = "",
) -> str:
    """A whole page: `main` goes into `<main id="live">` (replaced on refresh), `before` above it (kept, e.g. a
    filter form being typed in); `crumbs` are (href, text) pairs."""
    nav = [link(links.index(), "Leaderboard"), link(links.report(), "Report")]
    trail = " › ".join(link(href, text) for href, text in crumbs)
    live = "" if links.static else f' data-state="{esc(links.state())}"'
    script = "" if links.static else f"<script>{SCRIPT}</script>"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{REPORT_CSS}{CSS}</style></head>
<body data-stamp="{esc(stamp)}"{live}>
<nav class="top"><span class="brand">evalfleet explorer</span>{"".join(nav)}</nav>
<nav class="crumbs">{trail}</nav>
{before}
<main id="live">
{main}
</main>
{script}
</body></html>
"""
