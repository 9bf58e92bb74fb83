"""Start-up and footprint: time from starting `tumbler server` to its first served request, idle memory.

Each start is timed from just before the process is spawned to the first 200 from
``/_tumbler/health``, polled tightly (a new connection every 1 ms while nothing listens):
  - fresh: an empty data directory (creates the master key, the database and the admin key);
  - existing: a data directory from an earlier start, holding ``--secrets`` secrets;
  - reference: a bare ``python -c pass`` in the same interpreter, the floor of any Python start.
Idle memory is the server's VmRSS one second after its first answer (after a few scheduler ticks).

    python benchmarks/startup.py [--repeat 5] [--secrets 100] [--json FILE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.harness import TumblerProcess, free_port, vmrss_mb  # noqa: E402


def first_answer(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"tumbler exited with {process.returncode} before answering")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", "/_tumbler/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.001)
        finally:
            conn.close()
    raise RuntimeError("tumbler did not answer")


def start_once(data_dir: Path) -> tuple[float, float]:
    """Seconds to the first answer, and VmRSS (MiB) one second later."""
    port = free_port()
    cmd = [sys.executable, "-m", "tumbler.cli", "server", "--data-dir", str(data_dir), "--port", str(port)]
    started = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        first_answer(port, process)
        elapsed = time.perf_counter() - started
        time.sleep(1.0)
        return elapsed, vmrss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)


def python_floor() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - started


def measure(repeat: int, secrets: int, tmp: Path) -> dict[str, Any]:
    existing = tmp / "existing"
    with TumblerProcess(existing) as server:
        client = server.client()
        for i in range(secrets):
            client.create_secret(Name=f"bench/{i}", SecretString=json.dumps({"password": f"p{i}"}))
    fresh, warm, floor = [], [], []
    for i in range(repeat):  # interleaved, so that noise falls on both alike
        fresh.append(start_once(tmp / f"fresh-{i}"))
        warm.append(start_once(existing))
        floor.append(python_floor())
    return {
        "repeat": repeat,
        "secrets": secrets,
        "fresh_s": [t for t, _ in fresh],
        "existing_s": [t for t, _ in warm],
        "python_floor_s": floor,
        "rss_fresh_mb": [m for _, m in fresh],
        "rss_existing_mb": [m for _, m in warm],
    }


def table(data: dict[str, Any]) -> str:
    med = {k: statistics.median(v) for k, v in data.items() if isinstance(v, list)}
    n = data["repeat"]
    return "\n".join(
        [
            f"| start-up (median of {n}) | |",
            "|---|---:|",
            f"| fresh data dir: to first answer | {med['fresh_s'] * 1000:.0f} ms |",
            f"| existing data dir ({data['secrets']} secrets): to first answer | {med['existing_s'] * 1e3:.0f} ms |",
            f"| reference: `python -c pass` | {med['python_floor_s'] * 1000:.0f} ms |",
            f"| idle resident memory (VmRSS), fresh | {med['rss_fresh_mb']:.1f} MiB |",
            f"| idle resident memory (VmRSS), existing | {med['rss_existing_mb']:.1f} MiB |",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--secrets", type=int, default=100)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tumbler-bench-") as tmp:
        data = measure(args.repeat, args.secrets, Path(tmp))
    print(table(data))
    if args.json:
        args.json.write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
