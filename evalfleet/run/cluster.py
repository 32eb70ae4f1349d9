"""Joining a Ray cluster, or starting an embedded local one: the only place the driver starts Ray."""

from __future__ import annotations

import importlib
import os


def cluster_address(address: str | None) -> str | None:
    """The cluster a run joins: `address`, else RAY_ADDRESS; None for the embedded mode."""
    return address or os.environ.get("RAY_ADDRESS") or None


def init_ray(address: str | None, *, dashboard: bool = True) -> str | None:
    """Join `address` (or RAY_ADDRESS), else start an embedded local Ray (no-op when connected); the dashboard URL."""
    import ray

    if ray.is_initialized():
        return None
    address = cluster_address(address)
    os.environ.setdefault("RAY_raylet_start_wait_time_s", "180")  # a busy laptop starts the embedded Ray slowly
    if address:
        context = ray.init(address=address, log_to_driver=False)
    else:
        # "local": a Ray of this run's own, even when another one runs on the machine (joining that one
        # takes --address or RAY_ADDRESS; its workers may not see this checkout's modules)
        context = ray.init(address="local", log_to_driver=False, include_dashboard=dashboard)
    importlib.invalidate_caches()  # a job's working directory may have been unpacked again meanwhile
    url = getattr(context, "dashboard_url", None)
    return (url if url.startswith("http") else f"http://{url}") if url else None
