"""A database failover loses nothing: a primary and a synchronous streaming standby (two private clusters of
the installed PostgreSQL), a node on a libpq multi-host URL, the primary killed mid-load, the standby promoted."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from botocore.config import Config as BotoConfig

from tests.api.rotation_helpers import wait_for
from tests.api.test_fleet import node
from tests.dbs import _as_postgres, _free_port, _pg_bin


def _pg(*args: str, timeout: float = 60) -> None:
    subprocess.run(_as_postgres([str(_pg_bin() / args[0]), *args[1:]]), capture_output=True, check=True,
                   timeout=timeout)  # fmt: skip


def _start(data: Path, port: int, root: Path, *, synchronous: bool) -> None:
    """``synchronous``: a commit waits for the standby (the primary's setting; once promoted, the standby has
    no standby of its own and must not wait for one)."""
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c wal_level=replica -c max_wal_senders=4"
    if synchronous:
        options += " -c synchronous_standby_names='*'"
    _pg("pg_ctl", "-D", str(data), "-o", options, "-l", str(data.parent / f"{data.name}.log"), "-w", "start")


@pytest.fixture
def replicated() -> Iterator[tuple[int, Path, int, Path]]:
    """(primary port, its data dir, standby port, its data dir): synchronous replication, trust logins."""
    root = Path(tempfile.mkdtemp(prefix="tumbler-failover-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    primary, standby = root / "primary", root / "standby"
    p1, p2 = _free_port(), _free_port()
    try:
        _pg("initdb", "-D", str(primary), "-U", "postgres", "-A", "trust")
        _start(primary, p1, root, synchronous=True)
        _pg("pg_basebackup", "-h", "127.0.0.1", "-p", str(p1), "-U", "postgres", "-D", str(standby), "-R",
            "-X", "stream")  # fmt: skip
        _start(standby, p2, root, synchronous=False)
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{p1}/postgres", autocommit=True) as conn:
            wait_for(lambda: conn.execute("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")
                     .fetchone() == (1,), timeout=30)  # fmt: skip
            conn.execute("CREATE DATABASE tumbler")
        yield p1, primary, p2, standby
    finally:
        for data in (primary, standby):
            subprocess.run(_as_postgres([str(_pg_bin() / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                           capture_output=True, check=False)  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)


def test_every_acknowledged_write_survives_a_failover(tmp_path: Path, replicated: tuple[int, Path, int, Path]) -> None:
    p1, primary, p2, standby = replicated
    url = f"postgresql://postgres@127.0.0.1:{p1},127.0.0.1:{p2}/tumbler?target_session_attrs=read-write"
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    live = node(tmp_path, url, key, 0).start()
    acknowledged: dict[str, str] = {}
    failed = 0
    stop = threading.Event()
    try:
        sm = live.client(config=BotoConfig(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30))
        name = f"failover/{uuid.uuid4().hex[:8]}"
        sm.create_secret(Name=name, SecretString="0")

        def writes() -> None:
            nonlocal failed
            i = 0
            while not stop.is_set():
                i += 1
                token, value = str(uuid.uuid4()), f"value-{i}"
                try:
                    sm.put_secret_value(SecretId=name, SecretString=value, ClientRequestToken=token)
                except Exception:  # not acknowledged: it may or may not be there
                    failed += 1
                    time.sleep(0.05)
                    continue
                acknowledged[token] = value

        writer = threading.Thread(target=writes)
        writer.start()
        wait_for(lambda: len(acknowledged) >= 20, timeout=30)
        _pg("pg_ctl", "-D", str(primary), "-m", "immediate", "stop")  # the primary dies mid-load
        before = len(acknowledged)
        _pg("pg_ctl", "-D", str(standby), "-w", "promote")
        wait_for(lambda: len(acknowledged) >= before + 20, timeout=60)  # the node reconnected by itself
        stop.set()
        writer.join()
        for token, value in acknowledged.items():
            assert sm.get_secret_value(SecretId=name, VersionId=token)["SecretString"] == value
        with contextlib.closing(psycopg.connect(f"postgresql://postgres@127.0.0.1:{p2}/tumbler")) as conn:
            stored = conn.execute("SELECT count(*) FROM versions").fetchone()
        assert stored is not None
        assert stored[0] >= len(acknowledged) + 1
    finally:
        stop.set()
        live.stop()
