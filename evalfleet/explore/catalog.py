"""What the run set out to do, from its saved config (RESULTS/run.yaml): the tasks and their specs, each
task's items (loaded from the data directory as the run loaded them), the models and their teams.

Loading a task's items can fail where the official files are not at hand (another machine, an object
store): the task then has no plan and no re-rendered prompts, and the pages say why.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

from evalfleet.errors import EvalfleetError
from evalfleet.plan.shards import capped, task_items
from evalfleet.spec.edition import Edition, load_edition
from evalfleet.spec.taskspec import load_task, split_task_id, with_options
from evalfleet.types import Item, ModelRef, TaskSpec


@dataclass(frozen=True)
class TaskPlan:
    """One task as the run config asks for it."""

    spec: TaskSpec | None
    """The task spec as loaded now (None when it does not load)."""
    items: Mapping[str, Item] = field(default_factory=dict)
    """The items the run evaluates (the config's `limit` applied), by id."""
    problem: str = ""
    """Why the spec or the items did not load ('' when they did)."""

    @property
    def planned(self) -> int | None:
        """Items per model the run evaluates, or None when unknown."""
        return len(self.items) if self.spec is not None and not self.problem else None


class Catalog:
    """The run config's tasks, items and models, loaded once each (thread-safe)."""

    def __init__(self, config: Mapping[str, Any]):
        self.config = dict(config)
        self._plans: dict[str, TaskPlan] = {}
        self._edition: Edition | None = None
        self._lock = threading.Lock()

    @property
    def edition(self) -> Edition | None:
        """The run's edition rules (None when the config names none or it does not load)."""
        if self._edition is None and self.config.get("edition"):
            try:
                self._edition = load_edition(str(self.config["edition"]))
            except EvalfleetError:
                return None
        return self._edition

    def task_ids(self) -> list[str]:
        """The config's tasks, or (when it lists none) the edition's open and holdout tasks."""
        listed = [str(t) for t in self.config.get("tasks") or ()]
        if listed or self.edition is None:
            return listed
        return list(self.edition.tasks + self.edition.holdout)

    def models(self) -> dict[str, ModelRef]:
        """Model id -> ModelRef of every submission the config holds."""
        refs = {}
        for raw in self.config.get("submissions") or ():
            try:
                ref = ModelRef(**{k: v for k, v in dict(raw).items() if k in ModelRef.__dataclass_fields__})
            except TypeError:
                continue
            refs[ref.id] = ref
        return refs

    def plan(self, task: str) -> TaskPlan:
        """The task's spec and items, loaded on first use."""
        with self._lock:
            if task not in self._plans:
                self._plans[task] = self._load(task)
            return self._plans[task]

    def is_holdout(self, task: str) -> bool:
        """The edition lists the task (or its base name) as a holdout task."""
        holdout = set(self.edition.holdout) if self.edition else set()
        return task in holdout or split_task_id(task)[0] in holdout

    def _load(self, task: str) -> TaskPlan:
        try:
            spec = capped(load_task(task), self.config.get("max_new_tokens"))
            if spec.kind == "measure":
                spec = with_options(spec, self.config.get("probe"))
        except EvalfleetError as exc:
            return TaskPlan(None, problem=str(exc))
        try:
            items = task_items(spec, self.config.get("data_dir") or "data")
        except (EvalfleetError, OSError, ValueError, KeyError) as exc:
            return TaskPlan(spec, problem=f"items not loaded: {exc}")
        limit = self.config.get("limit")
        ids = sorted(i.id for i in items)[: limit or None]
        by_id = {i.id: i for i in items}
        return TaskPlan(spec, {i: by_id[i] for i in ids})
