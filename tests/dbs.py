"""Real database servers for rotation tests, with logins that really check passwords.

The machine's PostgreSQL trusts every local TCP login, so a rotated password could never be
shown to fail. ``PrivatePostgres`` runs the same installed PostgreSQL binaries as a private
cluster with scram-sha-256 authentication on a free port. MariaDB and Redis on this machine
check passwords already and are used as they are.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pymysql
from psycopg import sql

SUPERUSER_PASSWORD = "tumbler-test-superuser"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not versions:
        raise RuntimeError("PostgreSQL server binaries are not installed")
    return versions[-1].parent


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run as the postgres user when we are root."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class PrivatePostgres:
    port: int
    data: Path
    superuser: str = "tumbler_admin"

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[PrivatePostgres]:
        root = Path(tempfile.mkdtemp(prefix="tumbler-pg-"))
        cluster = cls(_free_port(), root / "data")
        try:
            cluster._start(root)
            yield cluster
        finally:
            subprocess.run(
                _as_postgres([str(_pg_bin() / "pg_ctl"), "-D", str(cluster.data), "-m", "immediate", "stop"]),
                capture_output=True,
                check=False,
            )
            shutil.rmtree(root, ignore_errors=True)

    def _start(self, root: Path) -> None:
        pwfile = root / "pw"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
            shutil.chown(pwfile, "postgres")
        initdb = [str(_pg_bin() / "initdb"), "-D", str(self.data), "-U", self.superuser, "-A", "scram-sha-256"]
        subprocess.run(_as_postgres([*initdb, f"--pwfile={pwfile}"]), capture_output=True, check=True)
        options = f"-p {self.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        start = [str(_pg_bin() / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(root / "log"), "-w", "start"]
        subprocess.run(_as_postgres(start), capture_output=True, check=True, timeout=60)

    @property
    def pid(self) -> int:
        """The postmaster's process id: its backends are its children."""
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def connect(self, user: str | None = None, password: str | None = None) -> psycopg.Connection:
        return psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user=user or self.superuser,
            password=password if user else SUPERUSER_PASSWORD,
            dbname="postgres",
            autocommit=True,
            connect_timeout=5,
        )

    def create_user(self, password: str) -> str:
        name = f"app_{uuid.uuid4().hex[:10]}"
        with self.connect() as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(name), sql.Literal(password))
            )
        return name

    def can_login(self, user: str, password: str) -> bool:
        try:
            with self.connect(user, password) as conn:
                conn.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True


class MariaDB:
    """The machine's MariaDB (root@127.0.0.1, empty password)."""

    host = "127.0.0.1"
    port = 3306

    def connect(self, user: str = "root", password: str = "") -> pymysql.connections.Connection:  # type: ignore[type-arg]
        return pymysql.connect(host=self.host, port=self.port, user=user, password=password, connect_timeout=5)

    def create_user(self, password: str) -> str:
        name = f"app_{uuid.uuid4().hex[:10]}"
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE USER '{name}'@'%%' IDENTIFIED BY %s", (password,))
                cur.execute(f"GRANT SELECT ON test.* TO '{name}'@'%'")
            conn.commit()
        finally:
            conn.close()
        return name

    def can_login(self, user: str, password: str) -> bool:
        try:
            self.connect(user, password).close()
        except pymysql.err.OperationalError:
            return False
        return True


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")
