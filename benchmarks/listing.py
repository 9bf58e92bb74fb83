"""ListSecrets at scale: one page, every page, and GetSecretValue while others list.

Grows one SQLite store to each size in ``--sizes`` (secrets sealed like real ones, each under its
own data key, written through the store adapter in bulk rather than through the API, so building
takes seconds a hundred thousand), then, against `tumbler server` on that data directory:
  - one page: signed ListSecrets at the default MaxResults and at MaxResults=1 (median, p99);
  - every page: a client walking every page of 100 with NextToken (time per page should not
    grow with the number of pages: keyset paging);
  - GetSecretValue under listing: p99 at ``--rate`` requests/s (paced wrk) while two other
    clients page ListSecrets nonstop.

    python benchmarks/listing.py [--sizes 20000,100000,1000000] [--walk-max 1000000] [--json FILE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks import loadgen  # noqa: E402
from benchmarks.harness import SignedRequest, TumblerProcess, send, sign  # noqa: E402
from tumbler.adapters.store import codec  # noqa: E402
from tumbler.core.secrets import AWSCURRENT, Secret, SecretValue  # noqa: E402
from tumbler.ops.secretsmanager.common import key_aad, seal  # noqa: E402
from tumbler.server.config import Config  # noqa: E402
from tumbler.server.runtime import open_runtime  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ACCOUNT = "123456789012"
BATCH = 20_000
TARGET_PAGE_MS, TARGET_P99_MS = 20.0, 5.0


def grow(data_dir: Path, start: int, stop: int) -> float:
    """Add secrets ``start`` .. ``stop - 1`` (one version each, labelled AWSCURRENT); seconds taken."""
    started = time.perf_counter()
    runtime = open_runtime(Config(data_dir=data_dir))
    keyring, store = runtime.keyring, runtime.store
    key_id = keyring.resolve_key(None)
    value = SecretValue(string=json.dumps({"username": "app", "password": "x" * 24}))
    try:
        with store.transaction() as uow:
            for first in range(start, stop, BATCH):
                secrets, versions, stages = [], [], []
                for i in range(first, min(first + BATCH, stop)):
                    name = f"bench/{i:07d}"
                    arn = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{name}-AbCdEf"
                    created = T0 + timedelta(seconds=i)
                    secret = Secret(arn=arn, name=name, region="us-east-1", created=created, last_changed=created,
                                    description=f"benchmark secret {i}", tags={"team": f"t{i % 50}"})  # fmt: skip
                    wrapped = keyring.new_data_key(key_id, key_aad(arn))
                    row = codec.secret_insert_row(secret, wrapped)
                    secrets.append(dict(zip([*codec.SECRET_COLUMNS.split(", "), "wrapped_key"], row, strict=False)))
                    blob = seal(keyring, wrapped, arn, "v1", value)
                    versions.append({"arn": arn, "version_id": "v1", "created": codec.ts(created),
                                     "last_accessed": None, "blob": blob})  # fmt: skip
                    stages.append({"arn": arn, "label": AWSCURRENT, "version_id": "v1"})
                uow.load("secrets", secrets)
                uow.load("versions", versions)
                uow.load("stages", stages)
    finally:
        store.close()
    return time.perf_counter() - started


class Client:
    """Signed requests on one keep-alive connection."""

    def __init__(self, server: TumblerProcess) -> None:
        self.port, self.keys = server.port, server.keys()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def call(self, operation: str, params: dict[str, Any], signed: SignedRequest | None = None) -> dict[str, Any]:
        request = signed or sign(self.port, self.keys, operation, params)
        self.conn.request(request.method, request.path, request.body.encode(), request.headers)
        answer = self.conn.getresponse()
        body = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{operation} answered {answer.status}: {body[:300]!r}")
        result: dict[str, Any] = json.loads(body)
        return result

    def timed(self, params: dict[str, Any], repeat: int) -> list[float]:
        """ms per ListSecrets call, the same signed request again and again (it is valid 15 minutes)."""
        signed = sign(self.port, self.keys, "ListSecrets", params)
        self.call("ListSecrets", params, signed)  # warm
        out = []
        for _ in range(repeat):
            began = time.perf_counter()
            self.call("ListSecrets", params, signed)
            out.append((time.perf_counter() - began) * 1000)
        return out

    def walk(self, stop: threading.Event | None = None) -> tuple[int, int]:
        """Every page of 100: (pages, secrets); with ``stop``, again and again until it is set."""
        pages = seen = 0
        token = None
        while True:
            params: dict[str, Any] = {"MaxResults": 100, **({"NextToken": token} if token else {})}
            page = self.call("ListSecrets", params)
            pages, seen = pages + 1, seen + len(page["SecretList"])
            token = page.get("NextToken")
            if stop is not None and stop.is_set():
                return pages, seen
            if token is None and stop is None:
                return pages, seen


def measure(server: TumblerProcess, size: int, walk: bool, rate: int, tmp: Path) -> dict[str, Any]:
    client = Client(server)
    out: dict[str, Any] = {"secrets": size}
    for label, params in (("page_default", {}), ("page_1", {"MaxResults": 1})):
        times = client.timed(params, 50)
        out[label] = {"median_ms": statistics.median(times), "p99_ms": sorted(times)[int(len(times) * 0.99) - 1]}
        print(f"{size:>9,} {label}: median {out[label]['median_ms']:.1f} ms", file=sys.stderr)
    if walk:
        began = time.perf_counter()
        pages, seen = client.walk()
        wall = time.perf_counter() - began
        assert seen == size, (seen, size)
        out["walk"] = {"pages": pages, "seconds": wall, "ms_per_page": wall / pages * 1000}
        print(f"{size:>9,} every page: {pages:,} pages in {wall:.1f} s", file=sys.stderr)
    stop = threading.Event()
    listers = [threading.Thread(target=Client(server).walk, args=(stop,)) for _ in range(2)]
    for thread in listers:
        thread.start()
    try:
        request = sign(server.port, server.keys(), "GetSecretValue", {"SecretId": f"bench/{size // 2:07d}"})
        assert send(server.port, request)[0] == 200
        script = loadgen.write_script(tmp / "gsv-paced.lua", request, rate=rate)
        result = loadgen.run(f"http://127.0.0.1:{server.port}/", script, 16, 10)
    finally:
        stop.set()
        for thread in listers:
            thread.join()
    out["gsv_under_listing"] = {"rate": rate, "rps": result.rps, "p50_ms": result.latency_ms[50.0],
                                "p99_ms": result.latency_ms[99.0], "max_ms": result.max_ms,
                                "late": result.late, "errors": sum(result.errors.values())}  # fmt: skip
    print(f"{size:>9,} GetSecretValue p99 while 2 clients list: {result.latency_ms[99.0]:.2f} ms", file=sys.stderr)
    return out


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| secrets | ListSecrets page (100), median / p99 | MaxResults=1, median / p99 | every page | ms per page "
        f"| GetSecretValue p99 while 2 clients list ({results[0]['gsv_under_listing']['rate']} req/s) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        walk = r.get("walk")
        every = f"{walk['pages']:,} pages in {walk['seconds']:.1f} s" if walk else "(not walked)"
        per_page = f"{walk['ms_per_page']:.1f}" if walk else ""
        gsv = r["gsv_under_listing"]
        lines.append(
            f"| {r['secrets']:,} | {r['page_default']['median_ms']:.1f} / {r['page_default']['p99_ms']:.1f} ms "
            f"| {r['page_1']['median_ms']:.1f} / {r['page_1']['p99_ms']:.1f} ms | {every} | {per_page} "
            f"| {gsv['p99_ms']:.2f} ms (max {gsv['max_ms']:.1f}, {gsv['errors']} errors) |"
        )
    biggest = results[-1]
    lines += ["", f"Targets at {biggest['secrets']:,} secrets: a page ≤ {TARGET_PAGE_MS:g} ms "
              f"({'met' if biggest['page_default']['median_ms'] <= TARGET_PAGE_MS else 'NOT met'}); "
              f"GetSecretValue p99 ≤ {TARGET_P99_MS:g} ms while others list "
              f"({'met' if biggest['gsv_under_listing']['p99_ms'] <= TARGET_P99_MS else 'NOT met'})."]  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="20000,100000,1000000")
    parser.add_argument("--walk-max", type=int, default=1_000_000, help="walk every page only up to this size")
    parser.add_argument("--rate", type=int, default=200, help="GetSecretValue requests/s offered while listing")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    results = []
    with tempfile.TemporaryDirectory(prefix="tumbler-listing-") as tmp:
        data_dir, have = Path(tmp) / "data", 0
        for size in sizes:
            built = grow(data_dir, have, size)
            have = size
            print(f"{size:>9,} secrets: store grown in {built:.1f} s", file=sys.stderr)
            with TumblerProcess(data_dir) as server:
                results.append({**measure(server, size, size <= args.walk_max, args.rate, Path(tmp)), "grow_s": built})
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
