"""Built-in PostgreSQL single-user rotations end to end, against the raw cost of the same database work.

In a private PostgreSQL cluster with scram-sha-256 logins (``tests/dbs.py``), N users for Tumbler
and N for the baseline. Then, in the same run:
  - raw: for each baseline user, ALTER ROLE ... PASSWORD over one open superuser connection and
    one new login with the new password: the database work a rotation cannot avoid;
  - Tumbler: one secret per user, RotateSecret on each with the built-in
    ``tumbler-postgresql-single-user``, timed from the first call until every rotation has
    finished (AWSCURRENT moved), read from the server's own rotation records.
Afterwards every rotation must have succeeded, and for a sample of users the new password logs
in and the old one no longer does.

    python benchmarks/rotation_throughput.py [--secrets 1000] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

from psycopg import sql

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.dbs import PrivatePostgres  # noqa: E402

from benchmarks.harness import TumblerProcess, cpu_seconds, idle_seconds  # noqa: E402
from tumbler.adapters.store.codec import rotation_from_doc  # noqa: E402
from tumbler.adapters.targets import open_target  # noqa: E402
from tumbler.core.rotation import Rotation  # noqa: E402
from tumbler.ports.target import Credentials, SetPassword  # noqa: E402
from tumbler.rotation.engine import RotationEngine  # noqa: E402
from tumbler.server.config import Config  # noqa: E402

BUILTIN = "arn:aws:lambda:us-east-1:123456789012:function:tumbler-postgresql-single-user"
SAMPLE = 5  # users whose old and new passwords are checked afterwards


def create_users(pg: PrivatePostgres, prefix: str, count: int) -> dict[str, str]:
    users = {f"{prefix}_{i}": secrets.token_urlsafe(18) for i in range(count)}
    with pg.connect() as conn:
        for user, password in users.items():
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(user), sql.Literal(password))
            )
    return users


def raw_rotations(pg: PrivatePostgres, users: dict[str, str]) -> list[float]:
    """Seconds per user: ALTER ROLE over an open connection, then one login with the new password."""
    times = []
    with pg.connect() as admin:
        for user in users:
            started = time.perf_counter()
            new = secrets.token_urlsafe(24)
            admin.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(user), sql.Literal(new)))
            with pg.connect(user, new) as conn:
                conn.execute("SELECT 1")
            times.append(time.perf_counter() - started)
    return times


def cpu_now(pg: PrivatePostgres, server: int | None = None) -> dict[str, float]:
    """CPU seconds used so far by Tumbler's process, PostgreSQL (with its exited backends) and this one
    (the client), and the machine's idle seconds: subtracted over a phase, where the time went."""
    used = {"postgresql": cpu_seconds(pg.pid, reaped=True), "client": time.process_time(), "idle": idle_seconds()}
    return used if server is None else {"tumbler": cpu_seconds(server), **used}


def cpu_per(before: dict[str, float], after: dict[str, float], count: int) -> dict[str, float]:
    return {name: (after[name] - before[name]) / count for name in before}


def rotator_floor(pg: PrivatePostgres, users: dict[str, str], threads: int) -> tuple[float, dict[str, float]]:
    """Seconds per user for the database work Tumbler's single-user rotator does, alone, on ``threads``
    threads as the engine runs rotations: its target's calls, as setSecret and testSecret make them (a
    login as the user, the new password's SCRAM verifier made on this side, ALTER ROLE; then a new login
    with the new password). Tumbler's target code, but no server, engine or store: what is left of Tumbler's
    figure over this is its own bookkeeping."""

    def rotate(item: tuple[str, str]) -> None:
        user, password = item
        current = Credentials("127.0.0.1", pg.port, user, password, "postgres")
        new = secrets.token_urlsafe(24)
        with closing(open_target("postgres")) as target:  # setSecret's
            target.verify(current)
            target.set_password(SetPassword(current, user, new))
        with closing(open_target("postgres")) as target:  # testSecret's
            target.verify(dataclasses.replace(current, password=new))

    before, started = cpu_now(pg), time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(rotate, users.items()))
    return (time.perf_counter() - started) / len(users), cpu_per(before, cpu_now(pg), len(users))


def finished_rotations(database: Path, timeout: float) -> list[Rotation]:
    """Every rotation once none is pending or running (bounded by ``timeout``)."""
    deadline = time.monotonic() + timeout
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        while time.monotonic() < deadline:
            active = conn.execute("SELECT count(*) FROM rotations WHERE state IN ('pending', 'running')").fetchone()[0]
            if active == 0:
                return [rotation_from_doc(doc) for (doc,) in conn.execute("SELECT doc FROM rotations")]
            time.sleep(0.1)
    raise RuntimeError(f"rotations still running after {timeout:.0f} s")


def step_failures(audit_log: Path) -> dict[str, int]:
    """How often each reason for a failed step (retried or final) appears in the server's audit log."""
    entries = [json.loads(line) for line in audit_log.read_text().splitlines()] if audit_log.exists() else []
    return dict(Counter(str(e.get("reason"))[:160] for e in entries if e.get("event") == "RotationStepFailed"))


def tumbler_rotations(pg: PrivatePostgres, users: dict[str, str], tmp: Path) -> dict[str, Any]:
    with TumblerProcess(tmp / "data") as server:
        sm = server.client()
        for user, password in users.items():
            value = {"engine": "postgres", "host": "127.0.0.1", "port": pg.port, "username": user,
                     "password": password, "dbname": "postgres"}  # fmt: skip
            sm.create_secret(Name=f"db/{user}", SecretString=json.dumps(value))
        pid = server.process.pid if server.process else None
        cpu_before = cpu_now(pg, pid)
        started = datetime.now().astimezone()
        clock = time.perf_counter()
        for user in users:
            sm.rotate_secret(SecretId=f"db/{user}", RotationLambdaARN=BUILTIN)
        calls = time.perf_counter() - clock
        rotations = finished_rotations(Config(data_dir=server.data_dir).database, timeout=60 + 2.0 * len(users))
        cpu = cpu_per(cpu_before, cpu_now(pg, pid), len(users))
        failed = [r for r in rotations if r.state.value != "succeeded"]
        retried = [r for r in rotations if r.attempt > 1]
        ends = sorted(r.finished for r in rotations if r.finished)
        sample = list(users)[:SAMPLE]
        checks = []
        for user in sample:
            new = json.loads(sm.get_secret_value(SecretId=f"db/{user}")["SecretString"])["password"]
            checks.append(pg.can_login(user, new) and not pg.can_login(user, users[user]))
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(ends)]
    return {
        "rotations": len(rotations),
        "failed": len(failed),
        "retried": len(retried),
        "step_failures": step_failures(server.data_dir / "audit.log"),
        "wall_s": (ends[-1] - started).total_seconds() if ends else None,
        "rotate_calls_s": calls,
        "gap_median_s": statistics.median(gaps) if gaps else None,
        "cpu_s": cpu,
        "passwords_checked": len(checks),
        "passwords_ok": sum(checks),
    }


def measure(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tumbler-bench-") as tmp, PrivatePostgres.running() as pg:
        raw_users = create_users(pg, "raw", count)
        floor_users = create_users(pg, "floor", count)
        tumbler_users = create_users(pg, "app", count)
        raw = raw_rotations(pg, raw_users)
        floor, floor_cpu = rotator_floor(pg, floor_users, RotationEngine.PARALLEL)
        tumbler = tumbler_rotations(pg, tumbler_users, Path(tmp))
    return {"secrets": count, "raw_s": raw, "floor_s": floor, "floor_cpu_s": floor_cpu,
            "threads": RotationEngine.PARALLEL, "tumbler": tumbler}  # fmt: skip


def table(data: dict[str, Any]) -> str:
    t, n = data["tumbler"], data["secrets"]
    raw_total, raw_median = sum(data["raw_s"]), statistics.median(data["raw_s"])
    rows = [
        f"| {n:,} PostgreSQL single-user rotations | Tumbler, end to end | raw ALTER ROLE + one login |",
        "|---|---:|---:|",
    ]
    if t["wall_s"]:
        per = t["wall_s"] / n
        rows += [
            f"| wall time | {t['wall_s']:.1f} s | {raw_total:.1f} s |",
            f"| rotations/s | {n / t['wall_s']:.1f} | {n / raw_total:.1f} |",
            f"| per rotation (wall / N; raw: median) | {per * 1000:.1f} ms | {raw_median * 1000:.1f} ms |",
            f"| per rotation, median gap between finishes | {(t['gap_median_s'] or 0) * 1000:.1f} ms | |",
            f"| the client's RotateSecret calls, one after another, all answered after"
            f" | {t['rotate_calls_s']:.1f} s ({t['rotate_calls_s'] / n * 1000:.1f} ms a call) | |",
            f"| Tumbler / raw, per rotation | {per / raw_median:.1f}x | |",
        ]
        if data.get("floor_s"):
            floor = data["floor_s"]
            rows += [
                f"| the rotator's own database work without Tumbler ({data['threads']} threads), per rotation"
                f" | {floor * 1000:.1f} ms ({floor / raw_median:.1f}x raw) | |",
                f"| Tumbler's bookkeeping over that, per rotation | {(per - floor) * 1000:.1f} ms | |",
            ]
        rows += cpu_rows(t.get("cpu_s"), data.get("floor_cpu_s"))
    rows += [
        f"| failed rotations | {t['failed']} of {t['rotations']} | |",
        f"| rotations that needed more than one attempt | {t['retried']} | |",
        f"| sample: new password logs in, old refused | {t['passwords_ok']} of {t['passwords_checked']} | |",
    ]
    for reason, count in sorted(t["step_failures"].items(), key=lambda item: -item[1]):
        rows.append(f"| failed step ({count}x) | {reason.replace('|', '/')} | |")
    return "\n".join(rows)


def cpu_rows(tumbler: dict[str, float] | None, floor: dict[str, float] | None) -> list[str]:
    """Where each rotation's CPU went, beside the same for the rotator's work without Tumbler: on a machine
    whose cores are both busy, Tumbler's time is its CPU, PostgreSQL's and the client's over two cores."""
    if not tumbler or not floor:
        return []

    def ms(value: float) -> str:
        return f"{value * 1000:.1f} ms"

    return [
        f"| CPU a rotation: Tumbler's process / PostgreSQL / the client (boto3) | {ms(tumbler['tumbler'])}"
        f" / {ms(tumbler['postgresql'])} / {ms(tumbler['client'])} | |",
        f"| CPU a rotation without Tumbler: the rotator's work / PostgreSQL | {ms(floor['client'])}"
        f" / {ms(floor['postgresql'])} | |",
        f"| cores idle a rotation (all cores summed): with Tumbler / without | {ms(tumbler['idle'])}"
        f" / {ms(floor['idle'])} | |",
    ]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--secrets", type=int, default=1000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    data = measure(args.secrets)
    print(table(data))
    if args.json:
        args.json.write_text(json.dumps(data, indent=1))
    return 0 if data["tumbler"]["failed"] == 0 and data["tumbler"]["rotations"] == args.secrets else 1


if __name__ == "__main__":
    raise SystemExit(main())
