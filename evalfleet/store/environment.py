"""The environment record a worker attaches to a shard's rows, carried into the shard's manifest entry.

The record itself (versions, device, host, times) is made by `evalfleet.plan.environment.environment_record`
on the worker; it travels in the Arrow schema metadata of the rows the worker returns.
"""

from __future__ import annotations

import json

import pyarrow as pa

ENVIRONMENT_KEY = b"evalfleet.environment"
"""Schema-metadata key of the environment record a worker attaches to a shard's rows."""


def with_environment(table: pa.Table, record: dict) -> pa.Table:
    """`table` carrying `record` in its schema metadata (the store moves it into the shard's manifest entry)."""
    return table.replace_schema_metadata({**(table.schema.metadata or {}), ENVIRONMENT_KEY: json.dumps(record)})


def environment_of(table: pa.Table) -> dict | None:
    """The environment record a worker attached to `table`, if any."""
    raw = (table.schema.metadata or {}).get(ENVIRONMENT_KEY)
    return json.loads(raw) if raw else None
