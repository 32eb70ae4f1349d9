"""Which tasks' items may leave the organizers: the edition's `publish_items` switch.

An edition rule file may list `publish_items: [task ids]`: exactly those tasks' items are published
(item lists and item pages of `evalfleet export-site`). Without the key every task's items are
published except the holdout tasks' (`holdout:`), whose hidden items must not leak. Leaderboards and
per-model task scores are always published. `evalfleet serve` shows everything to whoever holds
access (localhost, or the token) and marks the tasks an export would keep back.
"""

from __future__ import annotations

from evalfleet.explore.catalog import Catalog
from evalfleet.spec.taskspec import split_task_id

KEY = "publish_items"
"""The edition rule file's key."""


def items_published(task: str, catalog: Catalog) -> bool:
    """True when `task`'s items may be published under the run's edition."""
    edition = catalog.edition
    listed = edition.raw.get(KEY) if edition is not None else None
    if listed is not None:
        names = {str(t) for t in listed}
        return task in names or split_task_id(task)[0] in names
    return not catalog.is_holdout(task)
