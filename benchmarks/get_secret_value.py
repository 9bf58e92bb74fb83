"""Signed GetSecretValue over keep-alive connections, against its peers and ceilings in the same run.

Starts, each on a free loopback port:
  - Tumbler, with a secret; one GetSecretValue request is signed with botocore (SigV4, valid
    15 minutes) and sent as is by wrk: the server verifies the signature and decrypts the value
    on every request, as for any client;
  - moto's server with the same secret, sent the same request signed for its port;
  - the Python ceiling (``ceiling_app.py`` on uvicorn/httptools/uvloop) answering Tumbler's body;
  - nginx answering Tumbler's body with ``return 200``.

Then, the servers taking turns so that noise on the machine falls on all of them alike:
  - saturation: requests/s flat out at each connection count (wrk -t1), ``--runs`` runs each;
  - fixed load: latency percentiles at ``--rate`` requests/s offered (paced wrk, see loadgen.py).

    python benchmarks/get_secret_value.py [--connections 1,4,16,64] [--duration 8] [--runs 3]
        [--rate 2000] [--rate-duration 10] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks import loadgen  # noqa: E402
from benchmarks.harness import TumblerProcess, cpu_seconds, send, sign, signed_request  # noqa: E402
from benchmarks.peers import NGINX_WORKERS, MotoServer, Nginx, PythonCeiling  # noqa: E402

SECRET = json.dumps({"username": "app", "password": "x" * 24})
# "-2w": two worker processes on the port (`tumbler server --workers 2`; uvicorn --workers 2 for the ceiling)
SERVERS = ("tumbler", "tumbler-2w", "moto", "python-ceiling", "python-ceiling-2w", "nginx")
PACED_CONNECTIONS = 64  # idle connections cost the servers nothing; more of them keep slots from going late


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    connections = [int(c) for c in args.connections.split(",")]
    with ExitStack() as stack:
        tumbler = stack.enter_context(TumblerProcess(tmp / "tumbler"))
        tumbler.client().create_secret(Name="bench/secret", SecretString=SECRET)
        request = signed_request(tumbler, "GetSecretValue", {"SecretId": "bench/secret"})
        status, body = send(tumbler.port, request)
        assert status == 200, body
        two = stack.enter_context(TumblerProcess(tmp / "tumbler-2w", "--workers", "2"))
        two.client().create_secret(Name="bench/secret", SecretString=SECRET)
        moto = stack.enter_context(MotoServer(tmp / "moto"))
        moto.client().create_secret(Name="bench/secret", SecretString=SECRET)
        ceiling = stack.enter_context(PythonCeiling(tmp / "ceiling", body))
        ceiling2 = stack.enter_context(PythonCeiling(tmp / "ceiling-2w", body, workers=2))
        nginx = stack.enter_context(Nginx(tmp / "nginx", body))
        ports = {"tumbler": tumbler.port, "tumbler-2w": two.port, "moto": moto.port, "python-ceiling": ceiling.port,
                 "python-ceiling-2w": ceiling2.port, "nginx": nginx.port}  # fmt: skip
        servers = {"tumbler": tumbler, "tumbler-2w": two, "moto": moto, "python-ceiling": ceiling,
                   "python-ceiling-2w": ceiling2, "nginx": nginx}  # fmt: skip
        pids = {name: server.process.pid for name, server in servers.items() if server.process}
        keys = {name: moto.keys if name == "moto" else tumbler.keys() for name in ports}
        keys["tumbler-2w"] = two.keys()
        url = {name: f"http://127.0.0.1:{port}/" for name, port in ports.items()}
        saturation: dict[str, dict[int, list[dict[str, Any]]]] = {s: {c: [] for c in connections} for s in SERVERS}
        paced: dict[str, list[dict[str, Any]]] = {s: [] for s in SERVERS}
        for run in range(args.runs):
            # signed afresh each round: a signature is good for 15 minutes, a round takes about 3
            flat, slow, bodies = scripts(ports, keys, args.rate, tmp)
            if run == 0:
                for name in SERVERS:  # warm-up: imports, caches, connection setup
                    loadgen.run(url[name], flat[name], 16, min(2.0, args.duration))
            for c in connections:
                for name in SERVERS:
                    before = cpu_seconds(pids[name])
                    result = loadgen.run(url[name], flat[name], c, args.duration)
                    # the server's own CPU per request: unlike requests/s, not moved by wrk sharing its cores
                    cpu_us = (cpu_seconds(pids[name]) - before) / max(result.requests, 1) * 1e6
                    saturation[name][c].append({**asdict(result), "cpu_us_per_request": cpu_us})
                    print(f"run {run + 1} c={c:<3} {name:<15} {result.rps:>9.0f} req/s {cpu_us:6.1f} µs CPU/request",
                          file=sys.stderr)  # fmt: skip
            for name in SERVERS:
                result = loadgen.run(url[name], slow[name], PACED_CONNECTIONS, args.rate_duration)
                paced[name].append(asdict(result))
                p99 = result.latency_ms[99]
                print(f"run {run + 1} paced {name:<15} {result.rps:>6.0f} req/s p99 {p99:.2f} ms", file=sys.stderr)
        sizes = {name: len(b) for name, b in bodies.items()}
    return {
        "connections": connections,
        "duration_s": args.duration,
        "runs": args.runs,
        "rate": args.rate,
        "rate_duration_s": args.rate_duration,
        "paced_connections": PACED_CONNECTIONS,
        "nginx_workers": NGINX_WORKERS,
        "body_bytes": sizes,
        "saturation": saturation,
        "paced": paced,
    }


def scripts(
    ports: dict[str, int], keys: dict[str, tuple[str, str]], rate: int, tmp: Path
) -> tuple[dict[str, Path], dict[str, Path], dict[str, bytes]]:
    """Per server: a wrk script flat out, one paced to ``rate``, and the answer (checked to be a 200)."""
    flat, paced, bodies = {}, {}, {}
    for name, port in ports.items():
        request = sign(port, keys[name], "GetSecretValue", {"SecretId": "bench/secret"})
        status, bodies[name] = send(port, request)
        if status != 200:
            raise RuntimeError(f"{name} answered {status}: {bodies[name][:300]!r}")
        flat[name] = loadgen.write_script(tmp / f"{name}.lua", request)
        paced[name] = loadgen.write_script(tmp / f"{name}-paced.lua", request, rate=rate)
    return flat, paced, bodies


def summarize(data: dict[str, Any]) -> dict[str, Any]:
    """Medians over runs: requests/s per server and connection count, and the paced latencies."""
    rps = {
        name: {int(c): statistics.median(r["rps"] for r in runs) for c, runs in by_c.items()}
        for name, by_c in data["saturation"].items()
    }
    peak = {name: max(by_c.values()) for name, by_c in rps.items()}
    best_c = {name: max(by_c, key=lambda c: by_c[c]) for name, by_c in rps.items()}
    cpu = {  # µs of server CPU per request, median of the runs at the best connection count (older files: none)
        name: statistics.median(r.get("cpu_us_per_request", float("nan")) for r in _runs_at(by_c, best_c[name]))
        for name, by_c in data["saturation"].items()
    }
    paced = {}
    for name, runs in data["paced"].items():
        pct = {float(p) for p in runs[0]["latency_ms"]}
        paced[name] = {
            "rps": statistics.median(r["rps"] for r in runs),
            "late_share": statistics.median(r["late"] / max(r["requests"], 1) for r in runs),
            "latency_ms": {p: statistics.median(_pct(r, p) for r in runs) for p in sorted(pct)},
            "max_ms": statistics.median(r["max_ms"] for r in runs),
            "errors": sum(sum(r["errors"].values()) for r in runs),
        }
    errors = {
        name: sum(sum(r["errors"].values()) for runs in by_c.values() for r in runs)
        for name, by_c in data["saturation"].items()
    }
    return {"rps": rps, "peak": peak, "cpu": cpu, "paced": paced, "errors": errors}


def _runs_at(by_c: dict[Any, list[dict[str, Any]]], c: int) -> list[dict[str, Any]]:
    return next(runs for key, runs in by_c.items() if int(key) == c)


def _pct(result: dict[str, Any], p: float) -> float:
    return float({float(k): v for k, v in result["latency_ms"].items()}[p])


def tables(data: dict[str, Any]) -> str:
    s = summarize(data)
    conns = [int(c) for c in data["connections"]]
    out = [
        f"Saturation: requests/s, median of {data['runs']} runs of {data['duration_s']:g} s a point (wrk, one thread).",
        "",
        "| server | "
        + " | ".join(f"c={c}" for c in conns)
        + " | best | Tumbler / this | server CPU per request | Tumbler / this, by CPU | errors |",
        "|---|" + "---:|" * (len(conns) + 5),
    ]
    for name in SERVERS:
        cells = [f"{s['rps'][name][c]:,.0f}" for c in conns]
        ratio, cpu = s["peak"]["tumbler"] / s["peak"][name], s["cpu"][name]
        cells += [f"{s['peak'][name]:,.0f}", f"{ratio:.2f}x", f"{cpu:.1f} µs", f"{cpu / s['cpu']['tumbler']:.2f}x"]
        cells.append(str(s["errors"][name]))
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    out += ["", f"Fixed offered load: {data['rate']:,} requests/s, {data['paced_connections']} connections, "
            f"{data['rate_duration_s']} s per run; latencies in ms (medians over runs).", ""]  # fmt: skip
    out += ["| server | achieved req/s | late sends | p50 | p90 | p99 | p99.9 | max | errors |", "|---|" + "---:|" * 8]
    for name in SERVERS:
        p = s["paced"][name]
        lat = p["latency_ms"]
        cells = [f"{p['rps']:,.0f}", f"{p['late_share']:.1%}", *(f"{lat[q]:.2f}" for q in (50.0, 90.0, 99.0, 99.9))]
        out.append(f"| {name} | " + " | ".join([*cells, f"{p['max_ms']:.1f}", str(p["errors"])]) + " |")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", default="1,4,16,64")
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=int, default=2000)
    parser.add_argument("--rate-duration", type=float, default=10)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    missing = [tool for tool in ("wrk", "nginx") if shutil.which(tool) is None and not Path("/usr/sbin", tool).exists()]
    if missing:
        print(f"missing: {', '.join(missing)} (apt-get install {' '.join(missing)})", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tumbler-bench-") as tmp:
        data = measure(args, Path(tmp))
    print(tables(data))
    if args.json:
        args.json.write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
