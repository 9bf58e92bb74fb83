"""Run every benchmark, one subprocess each, and write benchmarks/results/: latest.md, latest.json, plots.

    python -m benchmarks.report [--quick] [--only get_secret_value,startup,...]

Usually called through ``benchmarks/run``, which installs what the benchmarks need first.
A benchmark that fails is reported as such (with its last error line); the others still run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks import authorization as authz
from benchmarks import get_secret_value as gsv
from benchmarks import loadgen, peers

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    writes_json: bool = True


STEPS = (
    Step(
        "get_secret_value",
        "Signed GetSecretValue: Tumbler, moto, the Python ceiling and nginx",
        (),
        ("--duration", "2", "--runs", "1", "--rate-duration", "4"),
    ),
    Step(
        "scheduler_scale",
        "Scheduler at scale",
        (),
        ("--ticks", "100"),  # 1,000,000 secrets take well under a minute
        writes_json=False,
    ),
    Step("startup", "Start-up and footprint", (), ("--repeat", "3")),
    Step("rotation_throughput", "Built-in PostgreSQL rotations", (), ("--secrets", "50")),
    Step("function_rotation", "Python rotation function", (), ("--functions", "2", "--rotations", "5")),
    Step("fleet", "Many nodes on PostgreSQL", (), ("--quick",)),
    Step("listing", "ListSecrets at scale", (), ("--sizes", "20000,100000", "--walk-max", "20000")),
    Step("authorization", "GetSecretValue by an IAM user against the root", (), ("--duration", "2", "--runs", "1")),
)


def run_step(step: Step, quick: bool, raw: Path) -> dict[str, Any]:
    out = raw / f"{step.name}.json"
    cmd = [sys.executable, f"benchmarks/{step.name}.py", *(step.quick if quick else step.full)]
    if step.writes_json:
        cmd += ["--json", str(out.relative_to(HERE.parent))]
    print(f"== {step.name}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
    out.unlink(missing_ok=True)
    table_file = raw / f"{step.name}.md"
    started = time.monotonic()
    tail: deque[str] = deque(maxlen=3)
    with (
        table_file.open("w") as stdout,
        subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=HERE.parent) as proc,
    ):
        for line in proc.stderr or ():  # progress, shown as it comes; the last lines kept for the report
            sys.stderr.write(line)
            if line.strip():
                tail.append(line.strip())
    table = table_file.read_text().strip()
    result: dict[str, Any] = {"command": " ".join(["python", *cmd[1:]]), "seconds": time.monotonic() - started}
    result["table"] = table
    if proc.returncode != 0:
        result["error"] = f"exit status {proc.returncode}" + (f": {' / '.join(tail)}" if tail else "")
    if step.writes_json and out.exists():
        result["data"] = json.loads(out.read_text())
    print(table, file=sys.stderr, flush=True)
    return result


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?")
    meminfo = Path("/proc/meminfo").read_text().split()
    memory_gib = int(meminfo[meminfo.index("MemTotal:") + 1]) / 1024 / 1024

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, check=False)
    changes = " + uncommitted changes" if dirty.stdout.strip() else ""
    return {
        "cores": f"{os.cpu_count()} ({len(os.sched_getaffinity(0))} usable)",
        "CPU": model,
        "memory": f"{memory_gib:.1f} GiB",
        "kernel": platform.release(),
        "OS": _os_name(),
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "load average at start (1, 5, 15 min)": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        **_loop_speed(),
        "Tumbler": f"{version('tumbler')} (commit {commit.stdout.strip() or '?'}{changes})",
        "uvicorn / httptools / uvloop": f"{version('uvicorn')} / {version('httptools')} / {version('uvloop')}",
        "moto": version("moto"),
        "botocore": version("botocore"),
        "nginx": f"{peers.nginx_version()} (worker_processes {peers.NGINX_WORKERS}, keep-alive on)",
        "wrk": f"{loadgen.version()} (one thread; pacing by Lua delay(), no wrk2 in Debian)",
    }


def loop_timing() -> tuple[float, float]:
    """Seconds a Python loop takes on CPU 0 alone, and how much slower it runs while a busy process spins
    on CPU 1 (1.0: not at all).

    The first tells machines apart: the same code has run Python twice as fast on one session's machine
    as on another's. The second matters because wrk and the server under test each take one of the two
    cores: on a VM whose cores are hyperthreads of one physical core, or share it, the server then runs
    slower than it would alone.
    """
    cpus = sorted(os.sched_getaffinity(0))

    def spin() -> float:
        started = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i
        return time.perf_counter() - started

    os.sched_setaffinity(0, {cpus[0]})
    try:
        alone = min(spin() for _ in range(3))
        if len(cpus) < 2:
            return alone, 1.0
        busy = subprocess.Popen(["taskset", "-c", str(cpus[1]), sys.executable, "-c", "while True: pass"])
        try:
            time.sleep(0.2)
            loaded = min(spin() for _ in range(3))
        finally:
            busy.kill()
            busy.wait()
    finally:
        os.sched_setaffinity(0, set(cpus))
    return alone, loaded / alone


def _loop_speed() -> dict[str, str]:
    samples = [loop_timing() for _ in range(5)]
    alone = statistics.median(a for a, _ in samples)
    speeds = sorted(1 / slower for _, slower in samples)
    return {
        "a Python loop of 2,000,000 additions on one core, alone (median of 5)": f"{alone * 1000:.0f} ms",
        "that loop's speed while the other core is busy, vs alone": (
            f"median {statistics.median(speeds):.0%} (from {speeds[0]:.0%} to {speeds[-1]:.0%})"
        ),
    }


def _os_name() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", "?")
    except OSError:
        return "?"


Row = tuple[str, str, str, bool | None]  # figure, measured, target, met (None: no target)


def targets(results: dict[str, dict[str, Any]]) -> str:
    """Every figure the performance issue sets a target for, from whichever benchmarks ran."""
    rows: list[Row] = []
    for name, rows_of in (("get_secret_value", gsv_targets), ("rotation_throughput", rotation_targets),
                          ("function_rotation", function_targets), ("startup", startup_targets),
                          ("listing", listing_targets), ("authorization", authorization_targets)):  # fmt: skip
        if "data" in results.get(name, {}):
            rows += rows_of(results[name]["data"])
    lines = ["| figure | measured | target | met |", "|---|---:|---:|:---:|"]
    for label, value, target, met in rows:
        lines.append(f"| {label} | {value} | {target} | {'' if met is None else ('yes' if met else 'NO')} |")
    return "\n".join(lines)


def rotation_targets(data: dict[str, Any]) -> list[Row]:
    wall = data["tumbler"]["wall_s"]
    if not wall:
        return []
    ratio = wall / data["secrets"] / statistics.median(data["raw_s"])
    return [(f"built-in PostgreSQL rotations ({data['secrets']:,}), Tumbler / raw work", f"{ratio:.2f}x", "≤ 1.5x",
             ratio <= 1.5)]  # fmt: skip


def function_targets(data: dict[str, Any]) -> list[Row]:
    warm = statistics.median(data["warm_s"]) * 1e3
    return [("Python rotation function, warm, per rotation", f"{warm:.0f} ms", "< 300 ms", warm < 300)]


def startup_targets(data: dict[str, Any]) -> list[Row]:
    start, rss = statistics.median(data["fresh_s"]) * 1e3, statistics.median(data["rss_fresh_mb"])
    return [("start-up to the first served request", f"{start:.0f} ms", "< 1 s", start < 1000),
            ("idle resident memory", f"{rss:.0f} MiB", "< 100 MB", rss * 1.048576 < 100)]  # fmt: skip


def listing_targets(data: list[dict[str, Any]]) -> list[Row]:
    biggest = data[-1]
    page, p99 = biggest["page_default"]["median_ms"], biggest["gsv_under_listing"]["p99_ms"]
    walked = [r for r in data if "walk" in r]
    rows: list[Row] = [
        (f"ListSecrets page of 100 ({biggest['secrets']:,} secrets)", f"{page:.1f} ms", "≤ 20 ms", page <= 20),
        (f"GetSecretValue p99 while 2 clients list ({biggest['secrets']:,})", f"{p99:.2f} ms", "≤ 5 ms", p99 <= 5),
    ]
    if len(walked) > 1:  # linear in pages: the time per page does not grow with the store
        growth = walked[-1]["walk"]["ms_per_page"] / walked[0]["walk"]["ms_per_page"]
        rows.append((f"every page: ms per page at {walked[-1]['secrets']:,} / at {walked[0]['secrets']:,}",
                     f"{growth:.2f}x", "≈ 1x (linear)", growth < 1.5))  # fmt: skip
    return rows


def authorization_targets(data: dict[str, Any]) -> list[Row]:
    ratio = authz.summarize(data)["ratio"]
    return [("GetSecretValue by an IAM user (tag condition) / by the root", f"{ratio:.0%}", f"≥ {authz.TARGET:.0%}",
             ratio >= authz.TARGET)]  # fmt: skip


def gsv_targets(data: dict[str, Any]) -> list[Row]:
    s = gsv.summarize(data)
    peak, p99, cpu = s["peak"], s["paced"]["tumbler"]["latency_ms"][99.0], s["cpu"]

    def by_cpu(ours: str, theirs: str, fmt: str) -> str:  # the same ratio from server CPU per request
        return f" (by CPU per request: {format(cpu[theirs] / cpu[ours], fmt)}{'x' if fmt.endswith('f') else ''})"

    return [
        ("Tumbler requests/s at saturation (best connection count)", f"{peak['tumbler']:,.0f}", "≥ 10,000",
         peak["tumbler"] >= 10_000),
        (f"Tumbler p99 at {data['rate']:,} requests/s offered", f"{p99:.2f} ms", "< 5 ms", p99 < 5),
        ("Tumbler / moto", f"{peak['tumbler'] / peak['moto']:.1f}x" + by_cpu("tumbler", "moto", ".1f"), "≥ 25x",
         peak["tumbler"] / peak["moto"] >= 25),
        ("Tumbler / Python ceiling", f"{peak['tumbler'] / peak['python-ceiling']:.0%}"
         + by_cpu("tumbler", "python-ceiling", ".0%"), "≥ 40%",
         peak["tumbler"] / peak["python-ceiling"] >= 0.4),
        ("Tumbler / nginx", f"{peak['tumbler'] / peak['nginx']:.1%}", "", None),
        ("Tumbler --workers 2: requests/s at saturation", f"{peak['tumbler-2w']:,.0f}", "≥ 10,000",
         peak["tumbler-2w"] >= 10_000),
        ("Tumbler --workers 2 / moto", f"{peak['tumbler-2w'] / peak['moto']:.1f}x"
         + by_cpu("tumbler-2w", "moto", ".1f"), "≥ 25x",
         peak["tumbler-2w"] / peak["moto"] >= 25),
        ("Tumbler --workers 2 / Python ceiling, 2 workers", f"{peak['tumbler-2w'] / peak['python-ceiling-2w']:.0%}"
         + by_cpu("tumbler-2w", "python-ceiling-2w", ".0%"),
         "≥ 40%", peak["tumbler-2w"] / peak["python-ceiling-2w"] >= 0.4),
    ]  # fmt: skip


def plots(data: dict[str, Any]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    s = gsv.summarize(data)
    fig, ax = plt.subplots(figsize=(8, 5))
    for name in gsv.SERVERS:
        pct = s["paced"][name]["latency_ms"]
        xs = [-np.log10(1 - p / 100) for p in pct]
        label = f"{name} ({s['paced'][name]['rps']:,.0f} req/s achieved)"
        ax.plot(xs, list(pct.values()), marker=".", label=label)
    ticks = [50, 90, 99, 99.9, 99.99]
    ax.set_xticks([-np.log10(1 - p / 100) for p in ticks], [f"p{p:g}" for p in ticks])
    ax.set_yscale("log")
    ax.set_ylabel("latency, ms (log)")
    ax.set_xlabel("percentile (wrk: request written -> response read)")
    ax.set_title(
        f"GetSecretValue latency at {data['rate']:,} requests/s offered ({data['paced_connections']} connections)"
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "latency.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 5))
    conns = [int(c) for c in data["connections"]]
    for name in gsv.SERVERS:
        runs = [[r["rps"] for r in _runs(data["saturation"][name], c)] for c in conns]
        med = [s["rps"][name][c] for c in conns]
        spread = [
            [m - min(r) for m, r in zip(med, runs, strict=True)],
            [max(r) - m for m, r in zip(med, runs, strict=True)],
        ]
        ax.errorbar(conns, med, yerr=spread, marker="o", capsize=3, label=name)
    ax.set_xscale("log", base=2)
    ax.set_xticks(conns, [str(c) for c in conns])
    ax.set_yscale("log")
    ax.set_xlabel("keep-alive connections (wrk, one thread)")
    ax.set_ylabel("requests/s (log; median, bars min-max)")
    ax.set_title("GetSecretValue throughput versus connections")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(RESULTS / "throughput.png", dpi=110)
    plt.close(fig)
    return ["latency.png", "throughput.png"]


def _runs(by_c: dict[Any, list[dict[str, Any]]], c: int) -> list[dict[str, Any]]:
    return by_c.get(c) or by_c[str(c)]


def markdown(results: dict[str, dict[str, Any]], info: dict[str, str], quick: bool, images: list[str]) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [f"# Tumbler benchmarks{' (--quick)' if quick else ''}", "", f"Run {stamp} by `benchmarks/run"
           f"{' --quick' if quick else ''}`. How to read each figure: `benchmarks/README.md`.", ""]  # fmt: skip
    out += ["## Machine", "", "| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in info.items()), ""]
    titles = {step.name: step.title for step in STEPS}
    if any("data" in result for result in results.values()):
        out += ["## Targets", "", targets(results), ""]
    for name, result in results.items():
        out += [f"## {titles[name]}", "", f"`{result['command']}` ({result['seconds']:.0f} s)", ""]
        if result.get("error"):
            out += [f"**Failed**, {result['error']}", ""]
        out += [result["table"] or "(no output)", ""]
        if name == "get_secret_value" and images:
            out += [f"![{image}]({image})" for image in images] + [""]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="short runs, smaller data: minutes instead of ~20")
    parser.add_argument("--only", help="comma-separated benchmark names: " + ",".join(s.name for s in STEPS))
    args = parser.parse_args()
    chosen = [s for s in STEPS if not args.only or s.name in args.only.split(",")]
    raw = RESULTS / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    info = machine()
    results = {step.name: run_step(step, args.quick, raw) for step in chosen}
    images = plots(results["get_secret_value"]["data"]) if "data" in results.get("get_secret_value", {}) else []
    (RESULTS / "latest.md").write_text(markdown(results, info, args.quick, images))
    (RESULTS / "latest.json").write_text(
        json.dumps({"machine": info, "quick": args.quick, "results": results}, indent=1)
    )
    print(f"wrote {RESULTS / 'latest.md'}", file=sys.stderr)
    return 1 if any(r.get("error") for r in results.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
