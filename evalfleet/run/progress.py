"""Live progress of a run: one bar per task and one overall, with items/s and ETA (rich).

On a terminal the bars redraw in place; elsewhere (`ray job submit` logs, CI) one line is printed
per finished shard. `dashboard_url()` is the Ray dashboard address, printed at the start of a run.
"""

from __future__ import annotations

import time
from typing import Sequence

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from evalfleet.types import Shard


def dashboard_url() -> str | None:
    """The Ray dashboard's http address of the connected cluster, or None when there is none."""
    try:
        from ray._private.worker import global_worker

        url = global_worker.node.address_info.get("webui_url")
    except Exception:
        return None
    return (url if url.startswith("http") else f"http://{url}") if url else None


def rate_eta(done: int, total: int, seconds: float) -> tuple[float, float | None]:
    """(items per second, seconds left) from `done` of `total` items after `seconds`."""
    rate = done / seconds if seconds > 0 else 0.0
    return rate, ((total - done) / rate if rate > 0 else None)


class RunProgress:
    """Progress display the driver calls: start(shards), add(shards), advance(shard, n_items), refresh(), stop().

    `add` grows the totals while the run goes on (a model's shards arrive once its checkpoint is hashed)."""

    def __init__(self, console: Console | None = None):
        self.console = console or Console(stderr=True)
        self.live = self.console.is_terminal
        self.progress: Progress | None = None
        self.bars: dict[str, int] = {}
        self.totals: dict[str, int] = {"overall": 0}
        self.done: dict[str, int] = {"overall": 0}
        self.t0 = time.perf_counter()

    def start(self, shards: Sequence[Shard]) -> None:
        self.t0 = time.perf_counter()
        self.add(shards)

    def add(self, shards: Sequence[Shard]) -> None:
        """Count `shards` into the totals (new tasks get their bar)."""
        for s in shards:
            self.totals[s.task.id] = self.totals.get(s.task.id, 0) + len(s.item_ids)
            self.totals["overall"] += len(s.item_ids)
            self.done.setdefault(s.task.id, 0)
        if not (self.live and shards):
            return
        if self.progress is None:
            self.progress = Progress(
                TextColumn("{task.description:<24}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>9}"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.progress.start()
        for name, total in sorted(self.totals.items(), key=lambda kv: kv[0] == "overall"):
            if name in self.bars:
                self.progress.update(self.bars[name], total=total)
            else:
                self.bars[name] = self.progress.add_task(name, total=total, completed=self.done[name], rate="")

    def advance(self, shard: Shard, n_items: int) -> None:
        elapsed = time.perf_counter() - self.t0
        for name in (shard.task.id, "overall"):
            self.done[name] += n_items
            rate, _ = rate_eta(self.done[name], self.totals[name], elapsed)
            if self.progress:
                self.progress.update(self.bars[name], advance=n_items, rate=f"{rate:.1f} it/s")
        if not self.progress:
            rate, eta = rate_eta(self.done["overall"], self.totals["overall"], elapsed)
            left = f"{eta:.0f}s" if eta is not None else "?"
            self.console.print(
                f"[{self.done['overall']}/{self.totals['overall']} items, {rate:.1f} it/s, ETA {left}] "
                f"{shard.task.id} {shard.model.id} #{shard.index} done"
            )

    def refresh(self) -> None:
        if self.progress:
            self.progress.refresh()

    def stop(self) -> None:
        if self.progress:
            self.progress.stop()
            self.progress = None
