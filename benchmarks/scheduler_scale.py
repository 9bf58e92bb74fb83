"""The scheduler at scale: 1,000,000 scheduled secrets; idle tick time and the server's memory.

Builds a SQLite store with N secrets whose next rotation falls over the coming 30 days (rows
written directly, in the store's own format, so building takes seconds rather than hours),
then measures:
  - the idle tick: Scheduler.tick() when nothing is due (median and p99 of many ticks);
  - a busy tick: the first tick after 100 rotations fell due (the cost grows with what is due);
  - the resident memory of a `tumbler server` process on that data directory, after it ticked.

    python benchmarks/scheduler_scale.py [--secrets 1000000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.harness import free_port  # noqa: E402
from tumbler.adapters.store import codec  # noqa: E402
from tumbler.adapters.store.sqlite import SqliteStore  # noqa: E402
from tumbler.core.secrets import RotationConfig, Secret  # noqa: E402
from tumbler.ports.services import Services  # noqa: E402
from tumbler.rotation.scheduler import Scheduler  # noqa: E402
from tumbler.server.config import Config  # noqa: E402
from tumbler.server.runtime import open_runtime  # noqa: E402

NOW = datetime(2026, 6, 1, tzinfo=UTC)
FN = "arn:aws:lambda:us-east-1:123456789012:function:bench"


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.t = now

    def now(self) -> datetime:
        return self.t


def build(store: SqliteStore, count: int) -> None:
    rng = random.Random(1)
    rules = {"AutomaticallyAfterDays": 30}
    batch: list[tuple[object, ...]] = []
    with store.transaction() as uow:
        conn = uow.conn  # type: ignore[attr-defined]
        for i in range(count):
            arn = f"arn:aws:secretsmanager:us-east-1:123456789012:secret:bench/{i}-AbCdEf"
            secret = Secret(arn=arn, name=f"bench/{i}", region="us-east-1", created=NOW, last_changed=NOW,
                            rotation=RotationConfig(lambda_arn=FN, rules=rules, enabled=True))  # fmt: skip
            due = NOW + timedelta(seconds=60 + rng.random() * 30 * 86400)
            batch.append((arn, "us-east-1", secret.name, arn, codec.doc(secret), codec.ts(NOW), codec.ts(due), b"k"))
            if len(batch) == 50_000:
                _flush(conn, batch)
        _flush(conn, batch)


def _flush(conn: object, batch: list[tuple[object, ...]]) -> None:
    conn.executemany(  # type: ignore[attr-defined]
        "INSERT INTO secrets (arn, region, name, source_arn, doc, created, next_rotation, wrapped_key) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        batch,
    )
    batch.clear()


def tick_times(scheduler: Scheduler, ticks: int) -> list[float]:
    out = []
    for _ in range(ticks):
        started = time.perf_counter()
        scheduler.tick()
        out.append((time.perf_counter() - started) * 1000)
    return out


def server_rss_mb(data_dir: Path) -> float:
    port = free_port()
    cmd = [sys.executable, "-m", "tumbler.cli", "server", "--data-dir", str(data_dir), "--port", str(port)]
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_tumbler/health", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(3)  # a few scheduler ticks
        status = Path(f"/proc/{process.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))) / 1024
    finally:
        process.terminate()
        process.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--secrets", type=int, default=1_000_000)
    parser.add_argument("--ticks", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        runtime = open_runtime(Config(data_dir=data_dir))
        started = time.perf_counter()
        build(runtime.store, args.secrets)
        built = time.perf_counter() - started
        clock = FixedClock(NOW)
        services = Services(runtime.store, runtime.keyring, clock, "123456789012")
        scheduler = Scheduler(services)
        idle = tick_times(scheduler, args.ticks)
        with runtime.store.reader() as reader:  # the moment the 100th rotation falls due
            hundredth = reader.conn.execute(  # type: ignore[attr-defined]
                "SELECT next_rotation FROM secrets ORDER BY next_rotation LIMIT 1 OFFSET 99"
            ).fetchone()[0]
        clock.t = datetime.fromtimestamp(hundredth, UTC)
        busy_started = time.perf_counter()
        started_rotations = scheduler.tick(limit=100)
        busy = (time.perf_counter() - busy_started) * 1000
        runtime.store.close()
        rss = server_rss_mb(data_dir)
    print(f"| scheduled secrets | {args.secrets:,} |")
    print("|---|---:|")
    print(f"| store built in | {built:.1f} s |")
    print(f"| idle tick, median | {statistics.median(idle):.3f} ms |")
    print(f"| idle tick, p99 | {sorted(idle)[int(len(idle) * 0.99) - 1]:.3f} ms |")
    print(f"| tick starting {started_rotations} due rotations | {busy:.1f} ms |")
    print(f"| server resident memory | {rss:.0f} MB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
