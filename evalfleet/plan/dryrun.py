"""What a run would do, shard by shard, and why: the data behind `evalfleet plan` and `evalfleet run`'s first line.

No Ray and no model: each planned shard is compared with the store's manifest. A shard whose
generation fingerprint is stored is `stored` (same scoring fingerprint) or `rescore` (the stored
outputs are re-extracted and re-scored); any other shard is `run`, with the components that
differ from the stored shard of the same task, model and index (`plan.fingerprint.reasons`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence

from evalfleet.plan.fingerprint import NEW, changed_code, reasons
from evalfleet.types import Item, Shard

STATUSES = ("stored", "run", "rescore")
"""What happens to a shard: nothing, generation (model on a GPU), or re-scoring of stored outputs."""


@dataclass(frozen=True)
class ShardPlan:
    """One planned shard's fate and cost."""

    task: str
    """Task id."""
    model: str
    """Model id ('team--family')."""
    index: int
    """Shard index within the task."""
    n_items: int
    """Items in the shard."""
    status: str
    """'stored', 'run' or 'rescore'."""
    reasons: tuple[str, ...]
    """Components that differ from the stored shard at the same place ('new' when none is stored)."""
    code: tuple[str, ...]
    """evalfleet modules whose source differs from the stored shard's ('code' reason only)."""
    prompt_tokens: int
    """Prompt tokens of the shard's requests counted with the model's tokenizer (0 when not counted)."""
    max_new_tokens: int
    """New-token budget of the shard: items × samples × max_new_tokens (0 for log-likelihood and measure)."""

    def row(self) -> dict[str, Any]:
        """The JSON-line form of `evalfleet plan --json`."""
        return {
            "task": self.task,
            "model": self.model,
            "index": self.index,
            "n_items": self.n_items,
            "status": self.status,
            "reasons": list(self.reasons),
            "code": list(self.code),
            "prompt_tokens": self.prompt_tokens,
            "max_new_tokens": self.max_new_tokens,
        }


def latest_by_place(entries: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str, int], Mapping[str, Any]]:
    """(task, model, index) -> the last manifest entry written there."""
    return {(e["task"], e["model"], int(e.get("index", 0))): e for e in entries}


def shard_plan(
    shard: Shard,
    stored: Mapping[str, Mapping[str, Any]],
    by_place: Mapping[tuple[str, str, int], Mapping[str, Any]],
    prompt_tokens: int = 0,
    payloads: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
) -> ShardPlan:
    """The fate of `shard` given the manifest (`stored`: generation fingerprint -> latest entry).

    `payloads(entry)` gives a stored entry's full payloads ({'generation': ...}); it names the
    modules behind a 'code' reason (without it, the reason stands alone)."""
    entry = stored.get(shard.fingerprint)
    fps = shard.fingerprints
    if entry is not None:
        same = fps is None or entry.get("scoring_fingerprint") == fps.scoring
        status, why, code = ("stored", (), ()) if same else ("rescore", ("scorer",), ())
    else:
        previous = by_place.get((shard.task.id, shard.model.id, shard.index))
        why = tuple(reasons(fps, previous)) if fps else (NEW,)
        code = ()
        if "code" in why and payloads is not None:
            code = tuple(changed_code(fps.generation_payload, payloads(previous).get("generation")))
        status = "run"
    return ShardPlan(
        shard.task.id,
        shard.model.id,
        shard.index,
        len(shard.item_ids),
        status,
        why,
        code,
        prompt_tokens,
        new_token_budget(shard),
    )


def new_token_budget(shard: Shard) -> int:
    """items × samples × max_new_tokens for generate tasks, else 0."""
    if shard.task.kind != "generate":
        return 0
    g = shard.task.generation
    return len(shard.item_ids) * g.num_samples * g.max_new_tokens


def plan_shards(
    shards: Sequence[Shard],
    items: Mapping[str, Mapping[str, Item]],
    entries: Sequence[Mapping[str, Any]],
    count: Callable[[Shard, Sequence[Item]], int] | None = None,
    payloads: Callable[[Mapping[str, Any]], Mapping[str, Any]] | None = None,
) -> list[ShardPlan]:
    """Every shard's plan; `count(shard, items)` gives its prompt tokens (only for shards that will run);
    `payloads(entry)` a stored entry's full payloads (`ResultStore.payloads`), to name changed modules."""
    stored = {e["fingerprint"]: e for e in entries}
    by_place = latest_by_place(entries)
    plans = []
    for shard in shards:
        tokens = 0
        if count is not None and shard.fingerprint not in stored:
            tokens = count(shard, [items[shard.task.id][i] for i in shard.item_ids])
        plans.append(shard_plan(shard, stored, by_place, tokens, payloads))
    return plans


def reason_summary(plans: Sequence[ShardPlan]) -> str:
    """One line: '412 shards to run: 400 new, 12 code changed in prompting; 3 to re-score; 10 stored'."""
    run = [p for p in plans if p.status == "run"]
    counts = Counter()
    for p in run:
        for r in p.reasons:
            detail = f" changed in {', '.join(m.rsplit('.', 1)[-1] for m in p.code)}" if r == "code" and p.code else ""
            counts[f"{r}{detail}" if r != NEW else NEW] += 1
    parts = [
        f"{len(run)} shards to run" + (": " + ", ".join(f"{n} {r}" for r, n in counts.most_common()) if run else "")
    ]
    rescore = sum(p.status == "rescore" for p in plans)
    if rescore:
        parts.append(f"{rescore} to re-score (scorer changed, no model needed)")
    parts.append(f"{sum(p.status == 'stored' for p in plans)} stored")
    return "; ".join(parts)


def summary(plans: Sequence[ShardPlan], tokens_per_second: float | None) -> dict[str, Any]:
    """Totals over the plan and the estimated compute time of the shards to run."""
    run = [p for p in plans if p.status == "run"]
    tokens = sum(p.prompt_tokens + p.max_new_tokens for p in run)
    return {
        "shards": len(plans),
        **{status: sum(p.status == status for p in plans) for status in STATUSES},
        "items_to_run": sum(p.n_items for p in run),
        "prompt_tokens": sum(p.prompt_tokens for p in run),
        "max_new_tokens": sum(p.max_new_tokens for p in run),
        "tokens_per_second": tokens_per_second,
        "estimated_seconds": round(tokens / tokens_per_second, 1) if tokens_per_second else None,
        "reasons": reason_summary(plans),
    }


@dataclass(frozen=True)
class PlanReport:
    """`evalfleet plan`'s answer."""

    shards: list[ShardPlan]
    """Every planned shard, in (model, task, index) order."""
    summary: dict[str, Any]
    """Totals and the time estimate (`summary`)."""
    problems: list[str]
    """Tasks and models that would be skipped, with the reason."""
