"""Signed GetSecretValue over keep-alive connections: requests per second and latency percentiles.

Starts its own Tumbler server on a free loopback port, creates a secret, signs one real
GetSecretValue request with botocore (the server verifies the signature and decrypts the
value on every request, as for any client) and drives it with wrk, a load generator in C.

    python benchmarks/get_secret_value.py [--connections 1,8,32] [--duration 10] [--rate 2000]

Prints a Markdown table and, with --json FILE, writes the figures.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.harness import TumblerProcess, signed_request, wrk_lua  # noqa: E402


def run_wrk(url: str, lua: Path, connections: int, duration: int, threads: int = 1) -> dict[str, Any]:
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(lua), url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = {p: _ms(m) for p, m in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "connections": connections,
        "rps": rps,
        "latency_ms": latency,
        "non2xx": int(errors.group(1)) if errors else 0,
    }


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", default="1,8,32")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install wrk", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp, TumblerProcess(Path(tmp) / "data") as server:
        client = server.client()
        client.create_secret(Name="bench/secret", SecretString='{"username":"app","password":"' + "x" * 24 + '"}')
        request = signed_request(server, "GetSecretValue", {"SecretId": "bench/secret"})
        lua = Path(tmp) / "request.lua"
        lua.write_text(wrk_lua(request))
        time.sleep(0.5)
        results = [run_wrk(server.endpoint + "/", lua, int(c), args.duration) for c in args.connections.split(",")]
    print("| connections | requests/s | p50 ms | p90 ms | p99 ms | non-2xx |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in results:
        lat = r["latency_ms"]
        cells = [str(r["connections"]), f"{r['rps']:.0f}", *(f"{lat[p]:.2f}" for p in ("50", "90", "99"))]
        print("| " + " | ".join([*cells, str(r["non2xx"])]) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
