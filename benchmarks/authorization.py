"""Signed GetSecretValue as the account root and as an IAM user allowed by a tag condition, in the same run.

One Tumbler server (authorization enforced, the default) with one secret tagged ``team=bench``; an IAM user whose
only policy allows secretsmanager:GetSecretValue where ``secretsmanager:ResourceTag/team`` is ``bench``. Each is
sent flat out by wrk (one thread, keep-alive) over ``--connections``, taking turns ``--runs`` times so that noise on
the machine falls on both alike. The user's requests are evaluated against its compiled policies; the root's only
against the secret's resource policy (it has none). Target: the user's requests/s at least 85% of the root's.

    python benchmarks/authorization.py [--connections 16] [--duration 8] [--runs 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks import loadgen  # noqa: E402
from benchmarks.harness import TumblerProcess, cpu_seconds, send, sign  # noqa: E402

SECRET = json.dumps({"username": "app", "password": "x" * 24})
CALLERS = ("root", "user")
TARGET = 0.85
TAG_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": "*",
        "Condition": {"StringEquals": {"secretsmanager:ResourceTag/team": "bench"}},
    }],
}  # fmt: skip


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    with TumblerProcess(tmp / "tumbler") as tumbler:
        tag = {"Key": "team", "Value": "bench"}
        tumbler.client().create_secret(Name="bench/secret", SecretString=SECRET, Tags=[tag])
        iam = tumbler.client("iam")
        iam.create_user(UserName="bench-user")
        iam.put_user_policy(UserName="bench-user", PolicyName="by-tag", PolicyDocument=json.dumps(TAG_POLICY))
        created = iam.create_access_key(UserName="bench-user")["AccessKey"]
        keys = {"root": tumbler.keys(), "user": (created["AccessKeyId"], created["SecretAccessKey"])}
        scripts = {}
        for caller in CALLERS:
            request = sign(tumbler.port, keys[caller], "GetSecretValue", {"SecretId": "bench/secret"})
            status, body = send(tumbler.port, request)
            if status != 200:
                raise RuntimeError(f"{caller} answered {status}: {body[:300]!r}")
            scripts[caller] = loadgen.write_script(tmp / f"{caller}.lua", request)
        url = f"http://127.0.0.1:{tumbler.port}/"
        assert tumbler.process is not None
        pid = tumbler.process.pid
        for caller in CALLERS:  # warm-up: imports, caches, connection setup
            loadgen.run(url, scripts[caller], args.connections, min(2.0, args.duration))
        runs: dict[str, list[dict[str, Any]]] = {caller: [] for caller in CALLERS}
        for run in range(args.runs):
            for caller in CALLERS:
                before = cpu_seconds(pid)
                result = loadgen.run(url, scripts[caller], args.connections, args.duration)
                cpu_us = (cpu_seconds(pid) - before) / max(result.requests, 1) * 1e6
                runs[caller].append({**asdict(result), "cpu_us_per_request": cpu_us})
                print(f"run {run + 1} {caller:<5} {result.rps:>9.0f} req/s {cpu_us:6.1f} µs CPU/request",
                      file=sys.stderr)  # fmt: skip
    return {"connections": args.connections, "duration_s": args.duration, "runs": runs}


def summarize(data: dict[str, Any]) -> dict[str, Any]:
    rps = {caller: statistics.median(r["rps"] for r in data["runs"][caller]) for caller in CALLERS}
    cpu = {caller: statistics.median(r["cpu_us_per_request"] for r in data["runs"][caller]) for caller in CALLERS}
    errors = {caller: sum(sum(r["errors"].values()) for r in data["runs"][caller]) for caller in CALLERS}
    return {"rps": rps, "cpu": cpu, "errors": errors, "ratio": rps["user"] / rps["root"]}


def table(data: dict[str, Any]) -> str:
    s = summarize(data)
    runs = len(data["runs"]["root"])
    out = [
        f"Signed GetSecretValue, {data['connections']} connections, median of {runs} alternating runs of "
        f"{data['duration_s']:g} s (wrk, one thread).",
        "",
        "| caller | requests/s | server CPU per request | errors |",
        "|---|---:|---:|---:|",
    ]
    for caller, label in (("root", "account root"), ("user", "IAM user, allowed by a tag condition")):
        out.append(f"| {label} | {s['rps'][caller]:,.0f} | {s['cpu'][caller]:.1f} µs | {s['errors'][caller]} |")
    out += ["", f"User / root: {s['ratio']:.0%} (target ≥ {TARGET:.0%})."]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("missing: wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tumbler-bench-") as tmp:
        data = measure(args, Path(tmp))
    print(table(data))
    if args.json:
        args.json.write_text(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
