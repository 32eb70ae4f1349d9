"""One item of one model: the reference, then per recorded row (sample, run) the full output, the extracted
answer, per-item metrics, log-likelihoods per choice, error and sandbox isolation, the shard's fingerprint and
environment record; last the prompt as sent (rendered again, its hash checked against the record)."""

from __future__ import annotations

import json

import pandas as pd

from evalfleet.explore.items import verdicts
from evalfleet.explore.links import Links
from evalfleet.explore.pages.layout import page
from evalfleet.explore.pages.markup import esc, link, number, pre, table
from evalfleet.explore.prompt import PromptCheck
from evalfleet.explore.snapshot import Snapshot
from evalfleet.types import Item


def as_json(value: object) -> str:
    """Pretty JSON (non-JSON values as text)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def prompt_section(check: PromptCheck) -> str:
    """The prompt and whether its hash matches the recorded one."""
    if check.matches is True:
        badge = (
            "<span class='badge ok' id='prompt-check' data-match='yes'>hash matches the record "
            f"{esc(check.recorded_hash)}</span>"
        )
    elif check.matches is False:
        badge = (
            f"<span class='badge bad' id='prompt-check' data-match='no'>hash differs: recorded "
            f"{esc(check.recorded_hash)}, rendered now {esc(check.rendered_hash)}</span>"
        )
    else:
        badge = "<span class='badge provisional' id='prompt-check' data-match='unknown'>not checked</span>"
    note = f"<p class='sub'>{esc(check.note)}</p>" if check.note else ""
    body = pre(check.prompt, "prompt") if check.prompt is not None else ""
    return f"<h2>Prompt as sent {badge}</h2>{note}{body}"


def loglik_table(row: dict, item: Item | None) -> str:
    """Log-likelihood per choice (loglikelihood tasks), the chosen one marked."""
    logliks = row.get("logliks")
    if not logliks:
        return ""
    choices = list(item.choices) if item is not None else []
    tokens = row.get("loglik_tokens") or []
    context = row.get("loglik_context_tokens") or []
    greedy = row.get("loglik_greedy") or []
    cells = []
    for k, value in enumerate(logliks):
        chosen = str(k) == str(row.get("extracted")) or (k < len(choices) and choices[k] == row.get("output"))
        cells.append(
            [
                str(k) + (" ✓" if chosen else ""),
                esc(choices[k] if k < len(choices) else ""),
                f"{value:.4f}",
                esc(tokens[k] if k < len(tokens) else ""),
                esc(context[k] if k < len(context) else ""),
                esc(greedy[k] if k < len(greedy) else ""),
            ]
        )
    return "<h3>Log-likelihood per choice</h3>" + table(
        ["choice", "continuation", "log-likelihood", "tokens", "context tokens", "greedy"], cells, klass="logliks"
    )


def row_section(row: dict, verdict: str, item: Item | None, entry: dict | None) -> str:
    """One recorded row: output, answer, metrics, log-likelihoods, error, shard."""
    facts = [
        ("verdict", f"<span class='badge {'ok' if verdict == 'right' else 'bad'}'>{esc(verdict)}</span>"),
        ("score", number(row["score"])),
        ("extracted answer", f"<code id='extracted'>{esc(row['extracted'])}</code>"),
        ("error", esc(row["error"] or "—")),
        ("sandbox isolation", esc(row["isolation"] or "—")),
        ("tokens", f"{esc(row['n_prompt_tokens'])} prompt, {esc(row['n_output_tokens'])} output"),
        ("latency", f"{float(row['latency_s'] or 0):.3f} s"),
        ("backend · prompt style", f"{esc(row['backend'])} · {esc(row['prompt_style'])}"),
        ("task version", esc(row["task_version"])),
    ]
    shard = entry or {}
    env = shard.get("environment")
    shard_facts = [
        ("shard fingerprint", f"<code class='fingerprint'>{esc(row['shard'])}</code>"),
        (
            "shard file",
            f"<code>{esc(shard.get('path', '—'))}</code>{_row_group(shard)} (#{esc(shard.get('index', '—'))})",
        ),
        ("scoring fingerprint", f"<code>{esc(shard.get('scoring_fingerprint', '—'))}</code>"),
        ("run", f"<code>{esc(row.get('run_id') or '—')}</code>"),
    ]
    dl = "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in facts + shard_facts)
    payload = shard.get("generation_payload")
    return f"""<section class="row" data-sample="{esc(row["sample"])}">
<h2>Output (sample {esc(row["sample"])}{", run " + esc(row.get("run_id")) if row.get("run_id") else ""})</h2>
{pre(row["output"], "output")}
<dl class="facts">{dl}</dl>
<h3>Per-item metrics</h3>{pre(as_json(row["metrics"]), "metrics")}
{loglik_table(row, item)}
<h3>Environment record</h3>{pre(as_json(env) if env else "none recorded", "environment")}
{f"<details><summary>generation payload</summary>{pre(as_json(payload))}</details>" if payload else ""}
</section>"""


def render_item(
    snap: Snapshot,
    rows: pd.DataFrame,
    task: str,
    model: str,
    item_id: str,
    item: Item | None,
    check: PromptCheck,
    links: Links,
) -> str:
    """The item page (rows: every recorded row of this item and model)."""
    entries = {e["fingerprint"]: e for e in snap.entries}
    rows = rows.assign(verdict=verdicts(rows))
    reference = as_json(item.reference) if item is not None else "the item is not loaded here"
    subset = rows["subset"].iloc[0] if len(rows) else (item.subset if item else "")
    sections = "".join(row_section(r, r["verdict"], item, entries.get(r["shard"])) for r in rows.to_dict("records"))
    others = [m for m in snap.models if m != model]
    compare = (
        ""
        if links.static or not others
        else "<p class='sub'>Compare on this item with "
        + ", ".join(link(links.compare(task, a=model, b=m, q=item_id, only="all"), m) for m in others[:8])
        + "</p>"
    )
    main = f"""<h1>{esc(task)} · {esc(model)} · item <code>{esc(item_id)}</code></h1>
<p class="sub">subset {esc(subset or "—")} · {len(rows)} recorded row(s)</p>
{compare}
<h2>Reference</h2>{pre(reference, "reference")}
{sections or "<p class='notes'>no row of this item is stored for this model</p>"}
{prompt_section(check)}"""
    crumbs = [
        (links.index(), "Leaderboard"),
        (links.task(task), task),
        (links.items(task, model), model),
        (links.item(task, model, item_id), item_id),
    ]
    return page(f"{task} · {model} · {item_id}", main, links, stamp=snap.stamp, crumbs=crumbs)


def _row_group(entry: dict) -> str:
    """', row group k' for a shard in a compacted file (its path holds many shards), else ''."""
    return f", row group {int(entry['row_group'])}" if "row_group" in entry else ""
