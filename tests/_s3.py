"""A real S3-protocol server on localhost for the object-store tests: moto's standalone `moto_server` on a free
port (the test is skipped where moto[server], the dev extra, is not installed)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from typing import Iterator

import pyarrow.fs as pafs
import pytest

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def moto_server() -> Iterator[str]:
    """The endpoint ('127.0.0.1:PORT') of a moto_server running for the block."""
    if shutil.which("moto_server") is None:
        pytest.skip("moto_server not installed (pip install 'moto[server]<5.2')")
    port = free_port()
    proc = subprocess.Popen(["moto_server", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def filesystem(endpoint: str) -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem on the server, allowed to create buckets."""
    return pafs.S3FileSystem(
        endpoint_override=endpoint,
        scheme="http",
        access_key="x",
        secret_key="x",
        region=REGION,
        allow_bucket_creation=True,
    )


def root_uri(endpoint: str, bucket: str, path: str) -> str:
    """An s3:// results root URI (bucket created) that evalfleet opens on this server."""
    filesystem(endpoint).create_dir(bucket)
    return f"s3://{bucket}/{path}?endpoint_override={endpoint}&scheme=http&region={REGION}"
