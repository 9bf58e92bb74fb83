"""Several Tumbler nodes on one PostgreSQL, beside one node on the embedded SQLite store, in the same run.

  - GetSecretValue: one secret, created through node 1; one signed request per node (the Host header
    names its port), sent flat out by one wrk process per node, all nodes at once; requests/s summed,
    with 1, 2 and 3 nodes driven (every node one worker), and one node on SQLite;
  - freshness: while wrk drives GetSecretValue on two nodes, PutSecretValue on node 1 and, from its
    acknowledgement on, GetSecretValue of that secret on node 2 over one kept-alive connection until it
    answers with the new version: the staleness is the time from node 1's answer to node 2's first fresh one
    (so it includes one request's latency under that load); p50, p99 and max over the writes;
  - rotation claims: one rotation function (``tests/api/functions/generic_rotation.py``) registered
    through node 1's Lambda API, N secrets, RotateSecret on every one spread over the nodes, timed until
    every row of ``rotations`` is ``succeeded`` (polling the database); 3 nodes on PostgreSQL and one on
    SQLite. Each secret must have exactly one rotation (exactly-once claims).

All nodes, PostgreSQL and wrk share this machine's cores, so more nodes cannot add CPU here: the
figures show what coordinating through PostgreSQL costs, not how far the fleet scales out.

Needs PostgreSQL on 127.0.0.1:5432 with trust auth for ``postgres`` (``TUMBLER_FLEET_POSTGRES``
overrides the admin URL); a fresh database ``fleet_bench_<hex>`` is created and dropped.

    python benchmarks/fleet.py [--duration 5] [--connections 16] [--secrets 120] [--quick] [--json FILE]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import secrets
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import psycopg

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.api.rotation_helpers import create_function  # noqa: E402

from benchmarks import loadgen  # noqa: E402
from benchmarks.harness import SignedRequest, TumblerProcess, send, sign  # noqa: E402
from tumbler.server.config import Config  # noqa: E402

ADMIN_URL = os.environ.get("TUMBLER_FLEET_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET = json.dumps({"username": "app", "password": "x" * 24})
NODES = 3
CALLERS_PER_NODE = 4  # threads sending RotateSecret to each node
ROTATION_TIMEOUT = 300.0


@contextmanager
def database() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL, dropped afterwards."""
    name = f"fleet_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_fleet(stack: ExitStack, tmp: Path, url: str, count: int) -> list[TumblerProcess]:
    """``count`` nodes on ``url``, one worker each, sharing a master key, each with its own data dir."""
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    before = os.environ.get("TUMBLER_MASTER_KEY")
    os.environ["TUMBLER_MASTER_KEY"] = key  # inherited by the node processes only
    try:
        return [stack.enter_context(TumblerProcess(tmp / f"node{i}", "--store", url)) for i in range(count)]
    finally:
        if before is None:
            del os.environ["TUMBLER_MASTER_KEY"]
        else:
            os.environ["TUMBLER_MASTER_KEY"] = before


# --- GetSecretValue -------------------------------------------------------------------------------


def gsv_scripts(nodes: list[TumblerProcess], name: str, tmp: Path, tag: str) -> list[Path]:
    """Per node, a wrk script with a GetSecretValue signed for that node's port (checked to answer 200)."""
    paths = []
    for i, node in enumerate(nodes):
        request = sign(node.port, node.keys(), "GetSecretValue", {"SecretId": name})
        status, body = send(node.port, request)
        if status != 200:
            raise RuntimeError(f"node {i + 1} answered {status}: {body[:300]!r}")
        paths.append(loadgen.write_script(tmp / f"{tag}-node{i}.lua", request))
    return paths


def drive(nodes: list[TumblerProcess], scripts: list[Path], connections: int, duration: float) -> dict[str, Any]:
    """One wrk per node, all at once; requests/s summed."""
    with ThreadPoolExecutor(len(nodes)) as pool:
        results = list(
            pool.map(
                lambda pair: loadgen.run(f"{pair[0].endpoint}/", pair[1], connections, duration),
                zip(nodes, scripts, strict=True),
            )
        )
    return {
        "nodes": len(nodes),
        "rps": sum(r.rps for r in results),
        "per_node_rps": [r.rps for r in results],
        "errors": sum(sum(r.errors.values()) for r in results),
        "p99_ms": max(r.latency_ms[99.0] for r in results),
        "runs": [asdict(r) for r in results],
    }


def gsv_point(label: str, nodes: list[TumblerProcess], scripts: list[Path], args: argparse.Namespace) -> dict:
    loadgen.run(f"{nodes[0].endpoint}/", scripts[0], args.connections, min(1.0, args.duration))  # warm-up
    point = drive(nodes, scripts, args.connections, args.duration)
    point["setup"] = label
    print(f"GetSecretValue {label:<22} {point['rps']:>8.0f} req/s  errors {point['errors']}", file=sys.stderr)
    return point


# --- freshness across nodes -------------------------------------------------------------------------


def _ask(conn: http.client.HTTPConnection, request: SignedRequest) -> dict[str, Any]:
    conn.request(request.method, request.path, request.body.encode(), request.headers)
    answer = conn.getresponse()
    body = answer.read()
    if answer.status != 200:
        raise RuntimeError(f"answered {answer.status}: {body[:200]!r}")
    return dict(json.loads(body))


def staleness(nodes: list[TumblerProcess], scripts: list[Path], args: argparse.Namespace) -> dict[str, Any]:
    """Write on node 1, poll node 2 (both under wrk's GetSecretValue load): ms until node 2 serves the write."""
    writer, reader = nodes[0], nodes[1]
    name = "bench/fresh"
    writer.client().create_secret(Name=name, SecretString="0")
    poll = sign(reader.port, reader.keys(), "GetSecretValue", {"SecretId": name})
    put_conn = http.client.HTTPConnection("127.0.0.1", writer.port, timeout=10)
    get_conn = http.client.HTTPConnection("127.0.0.1", reader.port, timeout=10)
    _ask(get_conn, poll)  # warm: node 2 holds the secret in memory
    samples: list[float] = []  # ack to node 2's first fresh answer: includes that request's latency
    windows: list[float] = []  # ack to the sending of node 2's last stale answer: node 2 was stale at least that long
    load = threading.Thread(target=drive, args=(nodes[:2], scripts[:2], args.connections, args.writes * 0.02 + 4))
    load.start()
    time.sleep(1.0)  # wrk is up to speed
    for i in range(args.writes):
        put = sign(writer.port, writer.keys(), "PutSecretValue",
                   {"SecretId": name, "SecretString": str(i + 1), "ClientRequestToken": str(uuid.uuid4())})  # fmt: skip
        version = _ask(put_conn, put)["VersionId"]
        acked = last_stale = time.perf_counter()
        while True:
            sent = time.perf_counter()
            if _ask(get_conn, poll)["VersionId"] == version:
                break
            last_stale = sent
            if sent - acked > 5:
                raise RuntimeError("node 2 still served the old version 5 s after node 1 acknowledged the write")
        samples.append((time.perf_counter() - acked) * 1000)
        windows.append((last_stale - acked) * 1000)
        time.sleep(0.01)
    load.join()
    result = {"writes": len(samples), **_percentiles(samples, ""), **_percentiles(windows, "stale_window_")}
    print(f"staleness across nodes: p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, "
          f"max {result['max_ms']:.2f} ms; stale window p99 {result['stale_window_p99_ms']:.2f} ms "
          f"over {len(samples)} writes", file=sys.stderr)  # fmt: skip
    return result


def _percentiles(values: list[float], prefix: str) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return {f"{prefix}p50_ms": statistics.median(ordered), f"{prefix}p99_ms": p99, f"{prefix}max_ms": ordered[-1]}


# --- rotations ------------------------------------------------------------------------------------


def rotate_all(nodes: list[TumblerProcess], count: int, prefix: str, poll: Callable[[], dict[str, int]]) -> dict:
    """N secrets, RotateSecret on each spread over ``nodes``, timed until ``poll`` says all succeeded."""
    fn = create_function(nodes[0].client("lambda"), "generic_rotation.py")
    clients = [node.client() for node in nodes]
    value = json.dumps({"username": "app", "password": "initial"})

    def create(i: int) -> str:
        return str(clients[i % len(nodes)].create_secret(Name=f"{prefix}/s{i}", SecretString=value)["ARN"])

    callers = CALLERS_PER_NODE * len(nodes)
    with ThreadPoolExecutor(callers) as pool:
        arns = list(pool.map(create, range(count)))
        started = time.monotonic()
        list(pool.map(lambda i: clients[i % len(nodes)].rotate_secret(SecretId=arns[i], RotationLambdaARN=fn),
                      range(count)))  # fmt: skip
    submitted = time.monotonic() - started
    deadline = started + ROTATION_TIMEOUT
    while True:
        states = poll()
        if states.get("succeeded", 0) >= count or states.get("failed", 0):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"rotations not done within {ROTATION_TIMEOUT:g} s: {states}")
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    return {"secrets": count, "arns": arns, "submit_s": submitted, "elapsed_s": elapsed, "states": states,
            "rotations_per_s": count / elapsed}  # fmt: skip


def pg_states(url: str) -> Callable[[], dict[str, int]]:
    def poll() -> dict[str, int]:
        with psycopg.connect(url) as conn:
            return dict(conn.execute("SELECT state, count(*) FROM rotations GROUP BY state").fetchall())

    return poll


def sqlite_states(path: Path) -> Callable[[], dict[str, int]]:
    def poll() -> dict[str, int]:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return dict(conn.execute("SELECT state, count(*) FROM rotations GROUP BY state").fetchall())
        finally:
            conn.close()

    return poll


def exactly_once(result: dict[str, Any], counts: dict[str, int]) -> None:
    """Record, then assert, that every secret has exactly one rotation and all succeeded."""
    arns = result.pop("arns")
    per_secret = [counts.get(arn, 0) for arn in arns]
    result["exactly_once"] = all(n == 1 for n in per_secret) and len(counts) == len(arns)
    result["rotations_total"] = sum(counts.values())
    result["succeeded"] = result["states"].get("succeeded", 0)
    assert result["exactly_once"], f"rotations per secret: {sorted(set(per_secret))}, {len(counts)} secrets"
    assert result["succeeded"] == len(arns), result["states"]


# --- run ------------------------------------------------------------------------------------------


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    gsv: list[dict[str, Any]] = []
    rotations: list[dict[str, Any]] = []
    with ExitStack() as stack:  # SQLite, one node
        node = stack.enter_context(TumblerProcess(tmp / "sqlite"))
        node.client().create_secret(Name="bench/secret", SecretString=SECRET)
        gsv.append(gsv_point("SQLite, 1 node", [node], gsv_scripts([node], "bench/secret", tmp, "sqlite"), args))
        if not args.gsv_only:
            db = Config(data_dir=node.data_dir).database
            result = rotate_all([node], args.secrets, "rot", sqlite_states(db))
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                counts = dict(conn.execute("SELECT secret_arn, count(*) FROM rotations GROUP BY secret_arn"))
            exactly_once(result, counts)
            result["setup"] = "SQLite, 1 node"
            rotations.append(result)
            print(f"rotations {result['setup']:<22} {result['rotations_per_s']:>6.1f}/s", file=sys.stderr)
    with ExitStack() as stack:
        url = stack.enter_context(database())
        nodes = start_fleet(stack, tmp, url, NODES)
        nodes[0].client().create_secret(Name="bench/secret", SecretString=SECRET)
        scripts = gsv_scripts(nodes, "bench/secret", tmp, "pg")
        for k in range(1, NODES + 1):
            label = f"PostgreSQL, {k} node{'s' if k > 1 else ''}"
            gsv.append(gsv_point(label, nodes[:k], scripts[:k], args))
        fresh = staleness(nodes, scripts, args)
        if args.gsv_only:
            return {"duration_s": args.duration, "connections_per_node": args.connections,
                    "cores": len(os.sched_getaffinity(0)), "get_secret_value": gsv, "rotations": rotations,
                    "staleness": fresh}  # fmt: skip
        result = rotate_all(nodes, args.secrets, "rot", pg_states(url))
        with psycopg.connect(url) as conn:
            counts = dict(conn.execute("SELECT secret_arn, count(*) FROM rotations GROUP BY secret_arn").fetchall())
        exactly_once(result, counts)
        result["setup"] = f"PostgreSQL, {NODES} nodes"
        rotations.append(result)
        print(f"rotations {result['setup']:<22} {result['rotations_per_s']:>6.1f}/s", file=sys.stderr)
    return {
        "duration_s": args.duration,
        "connections_per_node": args.connections,
        "cores": len(os.sched_getaffinity(0)),
        "get_secret_value": gsv,
        "rotations": rotations,
        "staleness": fresh,
    }


def table(data: dict[str, Any]) -> str:
    base = data["get_secret_value"][0]["rps"]
    out = [
        f"Signed GetSecretValue at saturation: one wrk per node ({data['connections_per_node']} connections, "
        f"{data['duration_s']:g} s), all nodes at once, requests/s summed; every node one worker.",
        "",
        "| setup | requests/s (sum) | per node | vs SQLite, 1 node | worst p99 (ms) | errors |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for p in data["get_secret_value"]:
        per = " / ".join(f"{r:,.0f}" for r in p["per_node_rps"])
        out.append(f"| {p['setup']} | {p['rps']:,.0f} | {per} | {p['rps'] / base:.0%} | {p['p99_ms']:.1f} | "
                   f"{p['errors']} |")  # fmt: skip
    one = next(p["rps"] for p in data["get_secret_value"] if p["setup"] == "PostgreSQL, 1 node")
    more = ", ".join(f"{p['setup'].split(', ')[1]} {p['rps'] / one:.0%}" for p in data["get_secret_value"]
                     if p["setup"].startswith("PostgreSQL") and p["setup"] != "PostgreSQL, 1 node")  # fmt: skip
    fresh = data["staleness"]
    out += [
        "",
        f"One PostgreSQL node serves {one / base:.0%} of one SQLite node's signed GetSecretValue throughput "
        f"(target: at least 70%); the fleet's total against one PostgreSQL node: {more} (target: not below 100%).",
        "",
        f"Freshness: a write acknowledged by node 1 is served by node 2 (both under GetSecretValue load) after "
        f"p50 {fresh['p50_ms']:.2f} ms, p99 {fresh['p99_ms']:.2f} ms, max {fresh['max_ms']:.2f} ms "
        f"({fresh['writes']} writes; target: within 50 ms), counted to node 2's first fresh answer, so with that "
        f"request's own latency under the load; node 2 still answered with the old value to requests sent up to "
        f"p99 {fresh['stale_window_p99_ms']:.2f} ms, max {fresh['stale_window_max_ms']:.2f} ms after the "
        "acknowledgement. Node 1 serves its own write at once.",
    ]
    if not data["rotations"]:
        return "\n".join(out)
    out += [
        "",
        "Rotation claims: RotateSecret on every secret (generic_rotation.py, four steps calling back through boto3), "
        "spread over the nodes, timed until every rotation has succeeded.",
        "",
        "| setup | secrets | RotateSecret calls done (s) | all succeeded (s) | rotations/s | exactly once |",
        "|---|---:|---:|---:|---:|:---:|",
    ]
    for r in data["rotations"]:
        once = f"yes ({r['rotations_total']} rotations)" if r["exactly_once"] else "NO"
        out.append(f"| {r['setup']} | {r['secrets']} | {r['submit_s']:.2f} | {r['elapsed_s']:.2f} | "
                   f"{r['rotations_per_s']:.1f} | {once} |")  # fmt: skip
    out += [
        "",
        f"All nodes, PostgreSQL and wrk share this {data['cores']}-core machine: more nodes cannot add CPU here, "
        "so these figures show the cost of coordinating through PostgreSQL, not scale-out. With 1 or 2 nodes "
        "driven, the other PostgreSQL nodes are running but idle.",
    ]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=5, help="seconds of wrk per point")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections per node")
    parser.add_argument("--secrets", type=int, default=120, help="secrets rotated per setup")
    parser.add_argument("--quick", action="store_true", help="2 s per point, 40 secrets")
    parser.add_argument("--writes", type=int, default=200, help="writes whose staleness is measured")
    parser.add_argument("--gsv-only", action="store_true", help="GetSecretValue and freshness only: no rotations")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.duration, args.secrets = min(args.duration, 2), min(args.secrets, 40)
    try:
        psycopg.connect(ADMIN_URL, connect_timeout=5).close()
    except psycopg.OperationalError as err:
        print(f"no PostgreSQL at {ADMIN_URL}: {err}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tumbler-bench-") as tmp:
        data = measure(args, Path(tmp))
    print(table(data))
    if args.json:
        args.json.write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
