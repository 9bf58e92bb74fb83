"""Server settings: command-line flags over environment variables over defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from tumbler.core.rotation import BACKOFF_BASE, MAX_ATTEMPTS, RetryPolicy

DEFAULT_PORT = 4590
DEFAULT_DATA_DIR = Path(".tumbler")


@dataclass(frozen=True)
class Config:
    data_dir: Path = DEFAULT_DATA_DIR
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    region: str = "us-east-1"
    account_id: str = "123456789012"
    dev: bool = False
    access_log: bool = False
    workers: int = 1  # server processes sharing the port; every one verifies, reads and rotates
    rotation_attempts: int = MAX_ATTEMPTS
    rotation_backoff: float = BACKOFF_BASE.total_seconds()  # the first retry's delay, doubling each time
    rotation_lease: float = 30.0  # seconds a node's claim on a rotation lasts unless renewed
    node_id: str | None = None  # the rotation leases' owner; default: made once, kept in data_dir/node-id
    store: str | None = None  # a postgresql:// URL: a database shared by several nodes (else SQLite in data_dir)
    tls_cert: str | None = None  # with tls_key, files: serve HTTPS
    tls_key: str | None = None
    authorization: str = "enforce"  # enforce | audit (allow, log would-be refusals) | off (ops/authorize.py)

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=self.rotation_attempts, base=timedelta(seconds=self.rotation_backoff))

    @property
    def endpoint(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104 - not a bind
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self.tls_cert else 'http'}://{host}:{self.port}"

    @property
    def database(self) -> Path:
        return self.data_dir / "tumbler.db"

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "credentials"


def data_dir_from(flag: str | None) -> Path:
    """The data directory, as an absolute path: messages and ``tumbler env`` name it wherever they run."""
    return Path(flag or os.environ.get("TUMBLER_DATA_DIR") or DEFAULT_DATA_DIR).absolute()
