"""Many independent calls as Ray CPU tasks spread over a cluster: what `evalfleet verify --ray` runs its groups on.

Each call is one task (`num_cpus=1`, SPREAD over the nodes). At most `in_flight` tasks are submitted at
a time, so the calls (a lazy iterable) and their results never pile up on the driver; results come back
as they finish (`ray.wait`). A task that raised or whose worker or node died is retried by Ray
(`max_retries`, exceptions included: a retry may land on another node); one that still fails comes back
as `Failed`, never as an exception out of the loop. Ray must be initialized (`run.cluster.init_ray`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable, Iterator

import ray

from evalfleet.store.shardfile import first_line

MAX_RETRIES = 3
"""Retries of a failed task (so at most 1 + MAX_RETRIES attempts)."""


@ray.remote(num_cpus=1)
def _call(fn: Callable, *args: Any) -> Any:
    return fn(*args)  # top-level ObjectRef arguments arrive as their values


@dataclass(frozen=True)
class Failed:
    """A call whose task failed on every attempt."""

    reason: str
    """The last attempt's failure: the exception's type and first line, or why the worker or its node died."""
    error: BaseException | None
    """The exception the call itself raised (None when the worker or its node died)."""


def cluster_cpus() -> int:
    """Logical CPUs of the connected cluster (at least 1)."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def share(value: Any) -> ray.ObjectRef:
    """`value` put in the object store once: pass the reference as a call argument, each task gets the value."""
    return ray.put(value)


def map_unordered(
    fn: Callable, calls: Iterable[tuple[Hashable, tuple]], *, in_flight: int, max_retries: int = MAX_RETRIES
) -> Iterator[tuple[Hashable, Any]]:
    """(key, fn(*args) or Failed) for each (key, args) of `calls`, in the order the tasks finish.

    `fn` must be importable on the workers (a module-level function). Tasks still running when the
    caller stops iterating are cancelled."""
    task = _call.options(scheduling_strategy="SPREAD", max_retries=max_retries, retry_exceptions=True)
    calls = iter(calls)
    pending: dict[ray.ObjectRef, Hashable] = {}
    try:
        while True:
            for key, args in calls:
                pending[task.remote(fn, *args)] = key
                if len(pending) >= in_flight:
                    break
            if not pending:
                return
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                key = pending.pop(ref)
                yield key, _result(ref)
    finally:
        for ref in pending:
            ray.cancel(ref)


def _result(ref: ray.ObjectRef) -> Any:
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:  # the call raised (on its last attempt)
        cause = exc.cause
        return Failed(f"{type(cause).__name__}: {first_line(cause)}", cause)
    except ray.exceptions.RayError as exc:  # the worker or its node died, the result was lost
        return Failed(f"{type(exc).__name__}: {first_line(exc)}", None)
